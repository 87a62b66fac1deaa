package dev.sluice.loader.internal.exec;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.runtime.TaskSpec;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The work of one map task, run on a worker thread: assemble the input bundle, run the function
 * chain, move the result into the operator's allocator, release the inputs. Every batch made along
 * the way is allocated in the task's own allocator, so the task's peak memory is measured exactly
 * and a function that leaks Arrow memory is caught when the task allocator closes.
 */
final class TaskBody {
  private TaskBody() {}

  /** Runs {@code chain} over {@code input}; {@code input} is owned by this call unless shared. */
  static Batch runChain(
      List<NamedFunction> chain,
      Batch input,
      boolean inputOwned,
      BufferAllocator taskAllocator,
      BadRecords bad,
      String opName,
      int epoch)
      throws Exception {
    Batch current = input;
    boolean currentOwned = inputOwned;
    for (NamedFunction f : chain) {
      BatchContext ctx = new Ctx(taskAllocator, bad, opName + ":" + f.name(), epoch);
      Batch next;
      try {
        next = f.function().apply(current, ctx);
      } catch (SluiceException e) {
        if (currentOwned) {
          current.close();
        }
        // A function's own error names the file and entry; the operator is known here.
        throw e.operator() != null
            ? e
            : new SluiceException(e.reason(), opName, e.source(), e.entry(), e);
      } catch (Exception | Error e) {
        String src = current.sources().isEmpty() ? null : String.join(", ", current.sources());
        if (currentOwned) {
          current.close();
        }
        throw new SluiceException("function " + f.name() + " failed: " + e, opName, src, null, e);
      }
      if (next == null) {
        throw new SluiceException(
            "function " + f.name() + " returned null", opName, null, null, null);
      }
      if (next != current) {
        if (currentOwned) {
          current.close();
        }
        currentOwned = true;
      }
      current = next;
    }
    if (!currentOwned) {
      // The chain passed a shared input through unchanged: take a copy we own.
      current = current.slice(taskAllocator, 0, current.rowCount());
    }
    return current;
  }

  /** A task's input: the batch and whether the task owns it (else it belongs to a shared block). */
  record Assembled(Batch batch, boolean owned) {}

  /**
   * Makes one batch of a task's inputs; no copy when the input is one whole block of this process.
   */
  static Assembled assemble(
      List<TaskSpec.Input> inputs, InputBlocks blocks, BufferAllocator taskAllocator) {
    List<Batch> temps = new ArrayList<>();
    try {
      List<Batch> views = new ArrayList<>(inputs.size());
      boolean owned = false;
      for (TaskSpec.Input s : inputs) {
        InputBlocks.Opened block = blocks.open(s.block(), taskAllocator);
        if (block.owned()) {
          temps.add(block.batch());
        }
        if (s.whole()) {
          views.add(block.batch());
          owned = block.owned();
        } else {
          Batch t = block.batch().slice(taskAllocator, s.from(), s.rows());
          temps.add(t);
          views.add(t);
          owned = true;
        }
      }
      if (views.size() == 1) {
        Batch only = views.get(0);
        temps.remove(only); // handed on, with its ownership
        return new Assembled(only, owned);
      }
      return new Assembled(Batch.concat(taskAllocator, views), true);
    } finally {
      temps.forEach(Batch::close);
    }
  }

  private record Ctx(
      BufferAllocator allocator, BadRecords badRecords, String operatorName, int epoch)
      implements BatchContext {}
}
