package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.internal.util.ConcurrencyUtil;
import dev.sluice.cluster.internal.HazelcastCallbacks;
import dev.sluice.loader.runtime.Resources;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hazelcast's async callbacks, which it runs on a new thread each when the common pool has no
 * parallelism (two CPUs or fewer), run on Sluice's pool while a member runs, and the default is
 * back once the last member has stopped.
 */
@Timeout(60)
class HazelcastCallbacksIT {
  private final TestMembers members = new TestMembers();

  @AfterEach
  void stop() {
    members.close();
  }

  @Test
  void callbacksRunOnSluicesPoolWhileMembersRunWhenTheCommonPoolHasNoParallelism() {
    Executor before = ConcurrencyUtil.getDefaultAsyncExecutor();
    assertThat(HazelcastCallbacks.pool()).isNull(); // no member runs in this JVM yet
    SluiceMember a = members.start(members.worker("127.0.0.2", "h2", Resources.cpus(1), 1 << 20));
    Executor during = ConcurrencyUtil.getDefaultAsyncExecutor();
    if (ForkJoinPool.getCommonPoolParallelism() > 1) {
      assertThat(during).isSameAs(before); // Hazelcast's default is a pool already
    } else {
      assertThat(during).isSameAs(HazelcastCallbacks.pool()).isNotSameAs(before);
    }
    SluiceMember b =
        members.start(
            members.worker("127.0.0.3", "h3", Resources.cpus(1), 1 << 20, a.self().address()));
    a.close();
    // One member still runs: the setting stays.
    assertThat(ConcurrencyUtil.getDefaultAsyncExecutor()).isSameAs(during);
    b.close();
    assertThat(ConcurrencyUtil.getDefaultAsyncExecutor()).isSameAs(before);
    assertThat(HazelcastCallbacks.pool()).isNull();
  }
}
