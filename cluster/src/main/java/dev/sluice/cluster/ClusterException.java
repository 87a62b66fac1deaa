package dev.sluice.cluster;

import dev.sluice.loader.SluiceException;

/**
 * A cluster that cannot be formed or used as asked: a member of another Sluice version, workers
 * that do not come within the time given, a configuration Hazelcast refuses. The message names the
 * cluster, the addresses and members concerned and what to check, so that it can be shown to the
 * person starting the job as it is.
 */
public class ClusterException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** A failure with its explanation. */
  public ClusterException(String message) {
    super(message, null);
  }

  /** A failure with its explanation and the exception behind it. */
  public ClusterException(String message, Throwable cause) {
    super(message, cause);
  }
}
