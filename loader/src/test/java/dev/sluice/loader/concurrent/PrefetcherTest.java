package dev.sluice.loader.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.SluiceException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class PrefetcherTest {
  private static final Function<Throwable, RuntimeException> AS_IS =
      t -> t instanceof RuntimeException re ? re : new IllegalStateException(t);

  private static boolean threadAlive(String name) {
    return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name));
  }

  @Test
  void handsOverTheItemsInOrderThenTheEndOnEveryCall() {
    try (Prefetcher<Integer> p =
        new Prefetcher<>(
            "prefetch-test-order",
            2,
            out -> {
              for (int i = 0; i < 5; i++) {
                out.put(i);
              }
            },
            i -> {},
            () -> {},
            AS_IS)) {
      List<Integer> got = new ArrayList<>();
      for (Integer i; (i = p.take()) != null; ) {
        got.add(i);
      }
      assertThat(got).containsExactly(0, 1, 2, 3, 4);
      assertThat(p.take()).isNull();
      assertThat(p.hasReady()).isTrue();
    }
  }

  @Test
  void throwsTheProducersFailureAfterItsItemsAndOnEveryLaterCall() {
    IllegalStateException boom = new IllegalStateException("boom");
    try (Prefetcher<Integer> p =
        new Prefetcher<>(
            "prefetch-test-failure",
            4,
            out -> {
              out.put(1);
              throw boom;
            },
            i -> {},
            () -> {},
            AS_IS)) {
      assertThat(p.take()).isEqualTo(1);
      assertThatThrownBy(p::take).isSameAs(boom);
      assertThatThrownBy(p::take).isSameAs(boom);
    }
  }

  @Test
  void theConsumerWaitsForAnItemNotYetMade() throws Exception {
    CountDownLatch make = new CountDownLatch(1);
    try (Prefetcher<String> p =
        new Prefetcher<>(
            "prefetch-test-wait",
            1,
            out -> {
              make.await();
              out.put("x");
            },
            s -> {},
            () -> {},
            AS_IS)) {
      assertThat(p.hasReady()).isFalse();
      make.countDown();
      assertThat(p.take()).isEqualTo("x");
      assertThat(p.take()).isNull();
    }
  }

  @Test
  void closeStopsAProducerWaitingForRoomAndReleasesEveryItemNotTaken() throws Exception {
    Set<Integer> released = ConcurrentHashMap.newKeySet();
    CountDownLatch third = new CountDownLatch(1);
    Prefetcher<Integer> p =
        new Prefetcher<>(
            "prefetch-test-close",
            2,
            out -> {
              for (int i = 0; ; i++) {
                if (i == 3) {
                  third.countDown(); // 0 taken, 1 and 2 queued: the put of 3 waits for room
                }
                if (!out.put(i)) {
                  return;
                }
              }
            },
            released::add,
            () -> {},
            AS_IS);
    assertThat(p.take()).isZero();
    assertThat(third.await(10, TimeUnit.SECONDS)).isTrue();
    p.close();
    assertThat(threadAlive("prefetch-test-close")).isFalse();
    assertThat(released).containsExactlyInAnyOrder(1, 2, 3);
    assertThat(p.take()).isNull(); // closed: nothing more
  }

  @Test
  void anInterruptWhileWaitingBecomesAClearErrorAndKeepsTheInterrupt() {
    CountDownLatch never = new CountDownLatch(1);
    try (Prefetcher<String> p =
        new Prefetcher<>(
            "prefetch-test-interrupt", 1, out -> never.await(), s -> {}, () -> {}, AS_IS)) {
      Thread.currentThread().interrupt();
      assertThatThrownBy(p::take)
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("interrupted");
      assertThat(Thread.interrupted()).isTrue(); // (and cleared for the close)
    }
  }
}
