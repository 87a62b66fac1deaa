package dev.sluice.cluster;

import dev.sluice.loader.runtime.Node;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Records a member's cluster events for a test to take, each within a timeout. */
final class RecordingListener implements ClusterListener {
  final BlockingQueue<Node> joined = new LinkedBlockingQueue<>();
  final BlockingQueue<Node> lost = new LinkedBlockingQueue<>();
  final BlockingQueue<Optional<MemberInfo>> coordinators = new LinkedBlockingQueue<>();

  /** A recorder listening to {@code member} from now on. */
  static RecordingListener on(SluiceMember member) {
    RecordingListener r = new RecordingListener();
    member.addListener(r);
    return r;
  }

  @Override
  public void workerJoined(Node worker) {
    joined.add(worker);
  }

  @Override
  public void workerLost(Node worker) {
    lost.add(worker);
  }

  @Override
  public void coordinatorChanged(Optional<MemberInfo> coordinator) {
    coordinators.add(coordinator);
  }

  /** The next event of {@code queue}; fails the test when none comes within {@code timeout}. */
  static <T> T next(BlockingQueue<T> queue, Duration timeout) throws InterruptedException {
    T event = queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (event == null) {
      throw new AssertionError("no event within " + timeout);
    }
    return event;
  }
}
