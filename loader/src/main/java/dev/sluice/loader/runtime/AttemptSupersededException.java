package dev.sluice.loader.runtime;

/**
 * A node refused or dropped a task reading a split under an attempt the execution has since
 * superseded (the split was handed to another node under a higher one): the work is fenced off, and
 * the scheduler treats the task as lost, not failed.
 */
public final class AttemptSupersededException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public AttemptSupersededException(String message) {
    super(message);
  }
}
