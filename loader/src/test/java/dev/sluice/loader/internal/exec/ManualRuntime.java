package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.ActorHandle;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.Runtime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * A runtime in which nothing runs until the test says so: tasks and actor calls wait in queues and
 * run on the test's thread when it calls {@link #runTasks()} or {@link #runActors()}; actors are
 * constructed when it calls {@link #runActors()}. With {@link StreamingExecutor#stepped} and its
 * {@code runOnce()}, a test drives an execution one decision at a time. Not thread-safe: one test
 * thread uses it.
 */
final class ManualRuntime implements Runtime {
  private final Resources total;
  private final Deque<Task> tasks = new ArrayDeque<>();
  private final List<Actor<?>> actors = new ArrayList<>();

  ManualRuntime(Resources total) {
    this.total = total;
  }

  @Override
  public Resources totalResources() {
    return total;
  }

  @Override
  public <T> CompletableFuture<T> submit(String name, Callable<T> task) {
    CompletableFuture<T> f = new CompletableFuture<>();
    tasks.add(new Task(name, () -> complete(f, task)));
    return f;
  }

  @Override
  public <S> ActorHandle<S> startActor(String name, Callable<S> factory) {
    Actor<S> a = new Actor<>(name, factory);
    actors.add(a);
    return a;
  }

  /** Tasks submitted and not yet run. */
  int pendingTasks() {
    return tasks.size();
  }

  /** Runs every task submitted so far (not those their completions submit); returns how many. */
  int runTasks() {
    int n = tasks.size();
    for (int i = 0; i < n; i++) {
      tasks.poll().body().run();
    }
    return n;
  }

  /** Runs the tasks submitted so far under {@code name} (an operator's), leaving the others. */
  int runTasks(String name) {
    List<Task> mine = tasks.stream().filter(t -> t.name().equals(name)).toList();
    tasks.removeAll(mine);
    mine.forEach(t -> t.body().run());
    return mine.size();
  }

  /** Names of the tasks waiting, in submission order. */
  List<String> pendingTaskNames() {
    return tasks.stream().map(Task::name).toList();
  }

  /**
   * Constructs actors not yet constructed, runs every call queued so far and completes the stops
   * asked for; returns how many of these things happened.
   */
  int runActors() {
    int n = 0;
    for (Actor<?> a : new ArrayList<>(actors)) {
      n += a.run();
    }
    return n;
  }

  /** Actors started and not stopped. */
  int liveActors() {
    return actors.size();
  }

  @Override
  public void close() {
    // Work the test left runs now, so that every future completes and nothing stays allocated.
    while (!tasks.isEmpty()) {
      tasks.poll().body().run();
    }
    for (Actor<?> a : new ArrayList<>(actors)) {
      a.stop();
      a.run();
    }
  }

  private record Task(String name, Runnable body) {}

  private static <T> void complete(CompletableFuture<T> f, Callable<T> work) {
    try {
      f.complete(work.call());
    } catch (Throwable e) {
      f.completeExceptionally(e);
    }
  }

  private final class Actor<S> implements ActorHandle<S> {
    private final String name;
    private final Callable<S> factory;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private final Deque<Runnable> calls = new ArrayDeque<>();
    private S state;
    private boolean stopping;

    Actor(String name, Callable<S> factory) {
      this.name = name;
      this.factory = factory;
    }

    @Override
    public CompletableFuture<Void> ready() {
      return ready;
    }

    @Override
    public <T> CompletableFuture<T> call(ActorCall<S, T> call) {
      CompletableFuture<T> f = new CompletableFuture<>();
      if (stopping) {
        f.completeExceptionally(new IllegalStateException("actor " + name + " stopped"));
      } else {
        calls.add(() -> complete(f, () -> call.apply(state)));
      }
      return f;
    }

    @Override
    public CompletableFuture<Void> stop() {
      stopping = true;
      return stopped;
    }

    int run() {
      int n = 0;
      if (!ready.isDone()) {
        try {
          state = factory.call();
          ready.complete(null);
        } catch (Throwable e) {
          ready.completeExceptionally(e);
        }
        n++;
      }
      while (!calls.isEmpty()) {
        calls.poll().run();
        n++;
      }
      if (stopping && !stopped.isDone()) {
        if (state instanceof AutoCloseable c) {
          try {
            c.close();
          } catch (Exception e) {
            throw new IllegalStateException("closing actor " + name + " failed", e);
          }
        }
        actors.remove(this);
        stopped.complete(null);
        n++;
      }
      return n;
    }
  }
}
