package dev.sluice.loader.runtime;

import dev.sluice.loader.concurrent.Uninterruptibly;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A runtime on threads of this JVM. Tasks run on a pool of named threads ({@code sluice-task-N})
 * that grows to what the executor asks for (the executor bounds concurrency by its CPU accounting);
 * each actor has a thread of its own ({@code sluice-actor-NAME}). The runtime owns every thread it
 * starts and stops them on {@link #close()}.
 */
public final class LocalRuntime implements ExecutionRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(LocalRuntime.class);
  private static final AtomicInteger RUNTIMES = new AtomicInteger();

  private final Node node;
  private final ExecutorService tasks;
  private final List<LocalActor<?>> actors = new ArrayList<>();
  private final String id;
  private boolean closed;

  /** A runtime offering the given logical resources. */
  public LocalRuntime(Resources total) {
    this(new Node("local", "localhost", total));
  }

  /**
   * A runtime whose one node is {@code node}: a cluster worker runs the tasks the scheduler sends
   * it on such a runtime, as its own node.
   */
  public LocalRuntime(Node node) {
    this.node = java.util.Objects.requireNonNull(node, "node");
    this.id = "r" + RUNTIMES.incrementAndGet();
    AtomicInteger n = new AtomicInteger();
    ThreadFactory factory =
        r -> {
          Thread t = new Thread(r, "sluice-task-" + id + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        };
    this.tasks = Executors.newCachedThreadPool(factory);
  }

  /** A runtime with one logical CPU per available processor and no GPU. */
  public static LocalRuntime ofAvailableProcessors() {
    return new LocalRuntime(Resources.cpus(java.lang.Runtime.getRuntime().availableProcessors()));
  }

  /** One node, this JVM: {@code local@localhost}, with the resources given. */
  @Override
  public List<Node> nodes() {
    return List.of(node);
  }

  @Override
  public <T> CompletableFuture<T> submit(Node node, String name, Callable<T> task) {
    checkNode(node);
    CompletableFuture<T> f = new CompletableFuture<>();
    tasks.execute(
        () -> {
          try {
            f.complete(task.call());
          } catch (Throwable e) {
            f.completeExceptionally(e);
          }
        });
    return f;
  }

  @Override
  public synchronized <S> ActorHandle<S> startActor(Node node, String name, Callable<S> factory) {
    checkNode(node);
    if (closed) {
      throw new IllegalStateException("runtime closed");
    }
    LocalActor<S> actor = new LocalActor<>("sluice-actor-" + name, factory);
    actors.add(actor);
    actor.stopped.whenComplete((v, e) -> forget(actor));
    return actor;
  }

  /** This JVM is never lost while the runtime is open: nobody is told anything. */
  @Override
  public Runnable addNodeListener(NodeListener listener) {
    return () -> {};
  }

  private void checkNode(Node n) {
    if (!node.equals(n)) {
      throw new IllegalArgumentException("not a node of this runtime: " + n);
    }
  }

  private synchronized void forget(LocalActor<?> actor) {
    actors.remove(actor);
  }

  @Override
  public void close() {
    List<LocalActor<?>> toStop;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      toStop = new ArrayList<>(actors);
    }
    for (LocalActor<?> a : toStop) {
      a.stop();
    }
    tasks.shutdownNow();
    // Not cut short by an interrupt: a task still running would free or allocate after close().
    for (LocalActor<?> a : toStop) {
      if (!Uninterruptibly.awaitTermination(a.thread, 10, TimeUnit.SECONDS)) {
        LOG.warn("an actor thread of runtime {} did not stop within 10 s", id);
      }
    }
    if (!Uninterruptibly.awaitTermination(tasks, 10, TimeUnit.SECONDS)) {
      LOG.warn("task threads of runtime {} did not stop within 10 s", id);
    }
  }

  private static final class LocalActor<S> implements ActorHandle<S> {
    private final ExecutorService thread;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private S state;
    private boolean stopping;

    LocalActor(String name, Callable<S> factory) {
      this.thread =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, name);
                t.setDaemon(true);
                return t;
              });
      thread.execute(
          () -> {
            try {
              state = factory.call();
              ready.complete(null);
            } catch (Throwable e) {
              ready.completeExceptionally(e);
            }
          });
    }

    @Override
    public CompletableFuture<Void> ready() {
      return ready;
    }

    @Override
    public <T> CompletableFuture<T> call(ActorCall<S, T> call) {
      CompletableFuture<T> f = new CompletableFuture<>();
      try {
        thread.execute(
            () -> {
              try {
                if (!ready.isDone() || ready.isCompletedExceptionally()) {
                  throw new IllegalStateException("actor failed to start");
                }
                f.complete(call.apply(state));
              } catch (Throwable e) {
                f.completeExceptionally(e);
              }
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        f.completeExceptionally(new IllegalStateException("actor stopped", e));
      }
      return f;
    }

    @Override
    public synchronized CompletableFuture<Void> stop() {
      if (stopping) {
        return stopped;
      }
      stopping = true;
      try {
        thread.execute(
            () -> {
              try {
                if (state instanceof AutoCloseable c) {
                  c.close();
                }
              } catch (Throwable e) {
                LOG.warn("closing actor state failed", e);
              } finally {
                state = null;
                stopped.complete(null);
              }
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        stopped.complete(null);
      }
      thread.shutdown();
      return stopped;
    }
  }
}
