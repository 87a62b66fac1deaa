package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.ActorHandle;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeLostException;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A runtime in which nothing runs until the test says so: tasks and actor calls wait in queues and
 * run on the test's thread when it calls {@link #runTasks()} or {@link #runActors()}; actors are
 * constructed when it calls {@link #runActors()}. With {@link StreamingExecutor#stepped} and its
 * {@code runOnce()}, a test drives an execution one decision at a time. Not thread-safe: one test
 * thread uses it.
 */
final class ManualRuntime implements ExecutionRuntime {
  private final List<Node> nodes;
  private final List<NodeListener> listeners = new ArrayList<>();
  private final Deque<Task> tasks = new ArrayDeque<>();
  private final List<Actor<?>> actors = new ArrayList<>();

  /** One node, {@code local@localhost}, offering {@code total}. */
  ManualRuntime(Resources total) {
    this(List.of(new Node("local", "localhost", total)));
  }

  ManualRuntime(List<Node> nodes) {
    this.nodes = new ArrayList<>(nodes);
  }

  @Override
  public List<Node> nodes() {
    return List.copyOf(nodes);
  }

  @Override
  public Runnable addNodeListener(NodeListener listener) {
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /**
   * Loses {@code node}: its waiting tasks and its actors' calls fail with {@link
   * NodeLostException}, its actors are gone, and the listeners are told.
   */
  void loseNode(Node node, String reason) {
    nodes.remove(node);
    NodeLostException lost = new NodeLostException(node, reason);
    List<Task> gone = tasks.stream().filter(t -> t.node().equals(node)).toList();
    tasks.removeAll(gone);
    gone.forEach(t -> t.lost().accept(lost));
    for (Actor<?> a : new ArrayList<>(actors)) {
      if (a.node.equals(node)) {
        a.lose(lost);
      }
    }
    new ArrayList<>(listeners).forEach(l -> l.nodeLost(node, reason));
  }

  /**
   * {@code node} says it is leaving: no new execution lists it, and the listeners are told; its
   * tasks and actors go on until the test runs them, or loses the node.
   */
  void leaveNode(Node node) {
    nodes.remove(node);
    leaving.add(node.id());
    new ArrayList<>(listeners).forEach(l -> l.nodeLeaving(node));
  }

  /**
   * {@code node} says it is leaving, but no listener hears of it, and {@link #nodes()} still lists
   * it: what an execution starting at that moment sees.
   */
  void leavingUnheard(Node node) {
    leaving.add(node.id());
  }

  private final java.util.Set<String> leaving = new java.util.HashSet<>();

  @Override
  public boolean isLeaving(Node node) {
    return leaving.contains(node.id());
  }

  /**
   * Tells the listeners that {@code node} is lost but leaves its waiting tasks to run, and succeed,
   * when the test runs them: a loss heard before the work on the node ended, as a cluster may see
   * it.
   */
  void loseNodeBeforeItsTasksEnd(Node node, String reason) {
    nodes.remove(node);
    new ArrayList<>(listeners).forEach(l -> l.nodeLost(node, reason));
  }

  /** The nodes of the actors with calls waiting, one entry per call. */
  List<String> pendingCallNodes() {
    List<String> nodesOfCalls = new ArrayList<>();
    for (Actor<?> a : actors) {
      for (int i = 0; i < a.calls.size(); i++) {
        nodesOfCalls.add(a.node.id());
      }
    }
    return nodesOfCalls;
  }

  /** The nodes of the tasks waiting, in submission order. */
  List<String> pendingTaskNodes() {
    return tasks.stream().map(t -> t.node().id()).toList();
  }

  @Override
  public <T> CompletableFuture<T> submit(Node node, String name, Callable<T> task) {
    CompletableFuture<T> f = new CompletableFuture<>();
    tasks.add(new Task(name, node, () -> complete(f, task), f::completeExceptionally));
    placements.add(node.id());
    return f;
  }

  private final List<String> placements = new ArrayList<>();

  /** The node of every task submitted and every actor started, in order. */
  List<String> placements() {
    return List.copyOf(placements);
  }

  @Override
  public <S> ActorHandle<S> startActor(Node node, String name, Callable<S> factory) {
    Actor<S> a = new Actor<>(name, node, factory);
    actors.add(a);
    placements.add(node.id());
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

  /** Runs the tasks submitted so far on node {@code nodeId}, leaving the others. */
  int runTasksOn(String nodeId) {
    List<Task> mine = tasks.stream().filter(t -> t.node().id().equals(nodeId)).toList();
    tasks.removeAll(mine);
    mine.forEach(t -> t.body().run());
    return mine.size();
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

  private record Task(String name, Node node, Runnable body, Consumer<Throwable> lost) {}

  private static <T> void complete(CompletableFuture<T> f, Callable<T> work) {
    try {
      f.complete(work.call());
    } catch (Throwable e) {
      f.completeExceptionally(e);
    }
  }

  private final class Actor<S> implements ActorHandle<S> {
    private final String name;
    private final Node node;
    private final Callable<S> factory;
    private final List<CompletableFuture<?>> pendingCalls = new ArrayList<>();
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private final Deque<Runnable> calls = new ArrayDeque<>();
    private S state;
    private boolean stopping;

    Actor(String name, Node node, Callable<S> factory) {
      this.name = name;
      this.node = node;
      this.factory = factory;
    }

    void lose(NodeLostException lost) {
      ready.completeExceptionally(lost);
      calls.clear();
      pendingCalls.forEach(f -> f.completeExceptionally(lost));
      pendingCalls.clear();
      actors.remove(this);
      stopped.complete(null);
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
        pendingCalls.add(f);
        calls.add(
            () -> {
              pendingCalls.remove(f);
              complete(f, () -> call.apply(state));
            });
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
