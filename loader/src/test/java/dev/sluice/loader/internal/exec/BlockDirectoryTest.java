package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.Lineage;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A lost block has at most one successor alive: a block made in its place a second time (two
 * requests to make it again that both ran, or one that ran after the first copy was taken) is
 * released at once instead of staying in its node's store unread (the failover benchmark once ended
 * an epoch with such a copy held, and the execution's close failed on it).
 */
class BlockDirectoryTest {
  private final BufferAllocator allocator = new RootAllocator();
  private final AtomicLong ids = new AtomicLong();
  private final BlockStore lostNode = new BlockStore("lost", ids);
  private final BlockStore a = new BlockStore("a", ids);
  private final BlockStore b = new BlockStore("b", ids);
  private final BlockDirectory directory =
      new BlockDirectory(Map.of("lost", lostNode, "a", a, "b", b));
  private final Lineage lineage = new Lineage.Read(0, "ReadRange", 14, 0, 8, 700, 800);

  @AfterEach
  void closeEverything() {
    lostNode.closeAll();
    a.closeAll();
    b.closeAll();
    allocator.close(); // fails on any block left open
  }

  private BlockRef make(BlockStore on) {
    try (BatchBuilder builder =
        BatchBuilder.create(
            allocator, new Schema(List.of(Columns.int64("id"))), 100, 0, List.of("part"))) {
      for (int i = 0; i < 100; i++) {
        builder.setLong("id", i, 700 + i);
      }
      BlockRef ref = on.put(builder.build(100), lineage, List.of("h"));
      directory.arrived(ref);
      return ref;
    }
  }

  @Test
  void aSecondBlockMadeWhileTheFirstLivesIsReleased() {
    BlockRef lost = make(lostNode);
    lostNode.lose();
    assertThat(directory.ready(lost)).isFalse();

    BlockRef first = make(a);
    assertThat(directory.succeed(lost, first)).isTrue();
    BlockRef second = make(b);
    assertThat(directory.succeed(lost, second)).isFalse();

    assertThat(b.size()).as("the copy is released").isZero();
    assertThat(directory.current(lost)).isEqualTo(first);
    try (Batch taken = directory.take(lost, allocator)) {
      assertThat(taken.getLong("id", 0)).isEqualTo(700);
    }
    assertThat(a.size()).isZero();
  }

  @Test
  void aBlockMadeAfterTheFirstCopyWasTakenIsReleasedAndNotAskedFor() {
    BlockRef lost = make(lostNode);
    lostNode.lose();
    BlockRef first = make(a);
    assertThat(directory.succeed(lost, first)).isTrue();
    directory.take(lost, allocator).close();

    assertThat(directory.settled(lost)).as("not to be made again").isTrue();
    BlockRef late = make(b);
    assertThat(directory.succeed(lost, late)).isFalse();
    assertThat(b.size()).isZero();
  }

  @Test
  void aSuccessorLostInTurnIsSucceededAgain() {
    BlockRef lost = make(lostNode);
    lostNode.lose();
    BlockRef first = make(a);
    assertThat(directory.succeed(lost, first)).isTrue();
    a.lose(); // the node of the block made again is lost too
    assertThat(directory.ready(lost)).isFalse();
    assertThat(directory.settled(lost)).isFalse();

    BlockRef second = make(b);
    assertThat(directory.succeed(lost, second)).isTrue();
    assertThat(directory.current(lost)).isEqualTo(second);
    directory.release(lost);
    assertThat(b.size()).isZero();
    assertThat(directory.settled(lost)).isTrue();
  }
}
