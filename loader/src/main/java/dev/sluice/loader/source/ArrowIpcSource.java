package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;
import org.apache.arrow.vector.util.ValueVectorUtility;

/**
 * Arrow IPC <em>files</em> (the random-access format with a footer, as written by {@link
 * dev.sluice.loader.sink.ArrowIpcSink} or {@code pyarrow.ipc.new_file}), read with {@link
 * ArrowFileReader}.
 *
 * <p><b>Splits.</b> One split per file, in the sorted expansion of the patterns ({@link
 * PathPatterns}; a literal directory stands for the {@code .arrow}, {@code .arrows}, {@code
 * .feather} and {@code .ipc} files directly in it). With {@link Builder#batchesPerSplit}, a file
 * holding more record batches than that is cut into splits of consecutive record batches: {@link
 * SourceSplit#start()} and {@link SourceSplit#end()} count record batches. Planning reads each
 * file's footer and record-batch headers, so {@code estimatedRows} is the exact row count (-1 when
 * a header is unreadable); {@code estimatedBytes} is the file size, or the bytes of the range.
 *
 * <p><b>Batches.</b> Each record batch becomes one output batch, or several when it holds more than
 * {@link ReadContext#targetRows()} rows or more than {@link ReadContext#targetBytes()} bytes (then
 * the pieces are copies). Every batch {@link SplitReader#next} returns is allocated in (or
 * transferred into) the allocator passed to that call and owned by the caller.
 *
 * <p><b>Memory.</b> A reader opens the file on its first {@code next} with a child allocator of the
 * allocator passed to that call, and moves each record batch out of it before returning, so that
 * child holds no bytes between calls. When a record batch is cut into pieces, the rest of it is
 * kept between calls (accounted in the allocator passed to the call that loaded it) until its last
 * piece is returned or the reader is closed. {@link SplitReader#close()} releases everything and
 * closes the child allocator, which fails if any byte were still outstanding; close the reader
 * before the allocator it was first given.
 *
 * <p><b>Bad input.</b> A file whose footer or schema cannot be read is an {@link IOException}
 * naming it. A record batch that does not load or validate is reported to {@link
 * ReadContext#badRecords()} as one bad record (the file and {@code record batch i}); within the
 * allowance it is skipped, as the format allows reading on. Dictionary-encoded columns and
 * compressed record batches are not supported (an {@link IOException} naming the file).
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time.
 */
public final class ArrowIpcSource implements Source {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadArrowIpc";

  /** Record-batch headers larger than this are taken as corrupt when planning. */
  private static final int MAX_HEADER_BYTES = 64 << 20;

  private final List<String> patterns;
  private final int batchesPerSplit;
  private final String sourceId;

  private ArrowIpcSource(Builder b) {
    this.patterns = List.copyOf(b.patterns);
    this.batchesPerSplit = b.batchesPerSplit;
    this.sourceId = b.sourceId != null ? b.sourceId : "arrow-ipc:" + String.join(",", patterns);
  }

  /** Files named by the given patterns, one split per file. */
  public static ArrowIpcSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(List<String> patterns) {
    return new Builder(patterns);
  }

  /** Configures an {@link ArrowIpcSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private int batchesPerSplit = Integer.MAX_VALUE;
    private String sourceId;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no file patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** Cuts files with more record batches than this into several splits (default: never). */
    public Builder batchesPerSplit(int batchesPerSplit) {
      if (batchesPerSplit <= 0) {
        throw new IllegalArgumentException("batchesPerSplit must be positive: " + batchesPerSplit);
      }
      this.batchesPerSplit = batchesPerSplit;
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /** The source. Touches no storage. */
    public ArrowIpcSource build() {
      return new ArrowIpcSource(this);
    }
  }

  /** The path patterns. */
  public List<String> patterns() {
    return patterns;
  }

  /** The most record batches in one split ({@link Integer#MAX_VALUE}: one split per file). */
  public int batchesPerSplit() {
    return batchesPerSplit;
  }

  /** The identifier of the source in its splits. */
  public String sourceId() {
    return sourceId;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    List<Path> files =
        PathPatterns.expand(patterns, PathPatterns.Directories.list(ArrowIpcSource::isArrowFile));
    List<SourceSplit> splits = new ArrayList<>();
    try (RootAllocator footers = new RootAllocator()) {
      for (Path file : files) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
            ArrowFileReader reader = new ArrowFileReader(channel, footers)) {
          List<ArrowBlock> blocks = footer(reader, file.toString());
          if (blocks.size() <= batchesPerSplit) {
            splits.add(
                new SourceSplit(
                    sourceId,
                    splits.size(),
                    List.of(file.toString()),
                    0,
                    -1,
                    rows(channel, blocks),
                    Files.size(file),
                    List.of()));
            continue;
          }
          for (int from = 0; from < blocks.size(); from += batchesPerSplit) {
            List<ArrowBlock> range =
                blocks.subList(from, Math.min(blocks.size(), from + batchesPerSplit));
            long bytes = 0;
            for (ArrowBlock block : range) {
              bytes += block.getMetadataLength() + block.getBodyLength();
            }
            splits.add(
                new SourceSplit(
                    sourceId,
                    splits.size(),
                    List.of(file.toString()),
                    from,
                    from + range.size(),
                    rows(channel, range),
                    bytes,
                    List.of()));
          }
        }
      }
    }
    return splits;
  }

  /** The rows of record batches, from their headers; -1 when a header cannot be read. */
  private static long rows(FileChannel channel, List<ArrowBlock> blocks) {
    long rows = 0;
    for (ArrowBlock block : blocks) {
      if (block.getMetadataLength() < 8 || block.getMetadataLength() > MAX_HEADER_BYTES) {
        return -1;
      }
      try {
        ByteBuffer metadata = ByteBuffer.allocate(block.getMetadataLength());
        long position = block.getOffset();
        while (metadata.hasRemaining()) {
          if (channel.read(metadata, position + metadata.position()) < 0) {
            return -1;
          }
        }
        metadata.order(ByteOrder.LITTLE_ENDIAN);
        metadata.position(metadata.getInt(0) == MessageSerializer.IPC_CONTINUATION_TOKEN ? 8 : 4);
        Message message = Message.getRootAsMessage(metadata.slice());
        if (message.headerType() != MessageHeader.RecordBatch) {
          return -1;
        }
        rows += ((RecordBatch) message.header(new RecordBatch())).length();
      } catch (IOException | RuntimeException e) {
        return -1;
      }
    }
    return rows;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    if (split.paths().size() != 1) {
      throw new IllegalArgumentException("an Arrow IPC split reads one file: " + split.describe());
    }
    Path file = Paths.get(split.paths().get(0));
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such Arrow IPC file");
    }
    return new FileReader(file, split, context);
  }

  /** Whether a file name looks like an Arrow IPC file this source reads from a directory. */
  public static boolean isArrowFile(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".arrow")
        || name.endsWith(".arrows")
        || name.endsWith(".feather")
        || name.endsWith(".ipc");
  }

  @Override
  public String toString() {
    return NAME + patterns;
  }

  private static List<ArrowBlock> footer(ArrowFileReader reader, String file) throws IOException {
    Schema schema;
    List<ArrowBlock> blocks;
    try {
      schema = reader.getVectorSchemaRoot().getSchema();
      blocks = reader.getRecordBlocks();
    } catch (IOException | RuntimeException e) {
      throw new IOException(
          "cannot read the footer of Arrow IPC file " + file + ": " + e.getMessage(), e);
    }
    for (Field field : schema.getFields()) {
      if (field.getDictionary() != null) {
        throw new IOException(
            "Arrow IPC file "
                + file
                + ": dictionary-encoded column '"
                + field.getName()
                + "' is not supported");
      }
    }
    return blocks;
  }

  /** A well-formed file using a feature this source does not read: not a bad record. */
  private static final class UnsupportedIpc extends IOException {
    private static final long serialVersionUID = 1L;

    UnsupportedIpc(String message) {
      super(message);
    }
  }

  private static final class FileReader implements SplitReader {
    private final Path file;
    private final SourceSplit split;
    private final ReadContext context;

    private BufferAllocator readerAllocator;
    private FileChannel channel;
    private ArrowFileReader reader;
    private List<ArrowBlock> blocks;
    private int nextBlock;
    private int endBlock;

    /** The rest of a record batch cut into pieces, and the row its next piece starts at. */
    private Batch rest;

    private int restRow;
    private boolean closed;

    FileReader(Path file, SourceSplit split, ReadContext context) {
      this.file = file;
      this.split = split;
      this.context = context;
    }

    @Override
    public Batch next(BufferAllocator allocator) throws IOException {
      if (closed) {
        throw new IllegalStateException("reader of " + split.describe() + " is closed");
      }
      if (rest != null) {
        return piece(allocator);
      }
      if (reader == null) {
        openFile(allocator);
      }
      while (nextBlock < endBlock) {
        int index = nextBlock++;
        Batch loaded = load(index, allocator);
        if (loaded == null) {
          continue;
        }
        if (loaded.rowCount() <= context.targetRows()
            && loaded.sizeInBytes() <= context.targetBytes()) {
          return loaded;
        }
        rest = loaded;
        restRow = 0;
        return piece(allocator);
      }
      return null;
    }

    private void openFile(BufferAllocator allocator) throws IOException {
      readerAllocator =
          allocator.newChildAllocator(NAME + " " + split.describe(), 0, Long.MAX_VALUE);
      try {
        channel = FileChannel.open(file, StandardOpenOption.READ);
        reader = new ArrowFileReader(channel, readerAllocator);
        blocks = footer(reader, file.toString());
      } catch (IOException | RuntimeException e) {
        closeFile();
        throw e;
      }
      long end = split.end() == -1 ? blocks.size() : split.end();
      if (split.start() > blocks.size() || end > blocks.size()) {
        closeFile();
        throw new IOException(
            "Arrow IPC file "
                + file
                + " holds "
                + blocks.size()
                + " record batches, fewer than split "
                + split.describe()
                + " needs (was it rewritten since planning?)");
      }
      nextBlock = (int) split.start();
      endBlock = (int) end;
    }

    /**
     * Loads record batch {@code index} and moves it out of the reader's allocator; null when it is
     * bad and the allowance lets it be skipped.
     */
    private Batch load(int index, BufferAllocator allocator) throws IOException {
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      try {
        loadBlock(blocks.get(index), root);
        ValueVectorUtility.validate(root);
      } catch (UnsupportedIpc e) {
        root.clear();
        throw new IOException(
            "Arrow IPC file " + file + ", record batch " + index + ": " + e.getMessage());
      } catch (IOException | RuntimeException e) {
        root.clear();
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        context
            .badRecords()
            .report(
                NAME,
                file.toString(),
                "record batch " + index,
                new IOException(
                    "corrupt Arrow IPC record batch " + index + " of " + file + ": " + why, e));
        return null;
      }
      try {
        return moveOut(root, allocator);
      } finally {
        root.clear();
      }
    }

    /**
     * Reads one record batch message into {@code root}. Done here rather than by {@link
     * ArrowFileReader#loadRecordBatch}, which does not release the message buffer when the message
     * is corrupt: a bad batch would leak its size from the allocator.
     */
    private void loadBlock(ArrowBlock block, VectorSchemaRoot root) throws IOException {
      long total = block.getMetadataLength() + block.getBodyLength();
      if (block.getMetadataLength() < 8 || block.getBodyLength() < 0 || total > Integer.MAX_VALUE) {
        throw new IOException("bad block in the footer: " + block);
      }
      ArrowBuf buffer = readerAllocator.buffer(total);
      boolean handedOver = false;
      try {
        ByteBuffer target = buffer.nioBuffer(0, (int) total);
        long position = block.getOffset();
        while (target.hasRemaining()) {
          int n = channel.read(target, position);
          if (n < 0) {
            throw new IOException(
                "the file ends inside the record batch (at byte " + position + ")");
          }
          position += n;
        }
        int prefix = buffer.getInt(0) == MessageSerializer.IPC_CONTINUATION_TOKEN ? 8 : 4;
        ArrowBuf metadata = buffer.slice(prefix, block.getMetadataLength() - prefix);
        Message message = Message.getRootAsMessage(metadata.nioBuffer().asReadOnlyBuffer());
        if (message.headerType() != MessageHeader.RecordBatch) {
          throw new IOException(
              "the message is not a record batch (header type " + message.headerType() + ")");
        }
        RecordBatch header = (RecordBatch) message.header(new RecordBatch());
        if (header.compression() != null) {
          throw new UnsupportedIpc(
              "compressed record batches are not supported (write the file uncompressed)");
        }
        ArrowBuf body = buffer.slice(block.getMetadataLength(), block.getBodyLength());
        // On success this releases the message buffer; the record batch holds slices of it.
        ArrowRecordBatch recordBatch = MessageSerializer.deserializeRecordBatch(header, body);
        handedOver = true;
        try (recordBatch) {
          new VectorLoader(root).load(recordBatch);
        }
      } finally {
        if (!handedOver) {
          buffer.close();
        }
      }
    }

    /**
     * Moves the loaded vectors into {@code allocator}: a transfer (no copy) when it shares the
     * reader allocator's root, a copy otherwise.
     */
    private Batch moveOut(VectorSchemaRoot root, BufferAllocator allocator) {
      int rowCount = root.getRowCount();
      boolean sameRoot = allocator.getRoot() == readerAllocator.getRoot();
      List<FieldVector> moved = new ArrayList<>(root.getFieldVectors().size());
      try {
        for (FieldVector v : root.getFieldVectors()) {
          TransferPair tp = v.getTransferPair(v.getField(), allocator);
          FieldVector to = (FieldVector) tp.getTo();
          moved.add(to);
          if (sameRoot) {
            tp.transfer();
          } else {
            to.setInitialCapacity(rowCount);
            to.allocateNew();
            for (int r = 0; r < rowCount; r++) {
              tp.copyValueSafe(r, r);
            }
            to.setValueCount(rowCount);
          }
        }
      } catch (RuntimeException e) {
        moved.forEach(FieldVector::close);
        throw e;
      }
      return new Batch(
          new VectorSchemaRoot(root.getSchema().getFields(), moved, rowCount),
          List.of(file.toString()));
    }

    /** The next piece of {@link #rest}, copied into {@code allocator}. */
    private Batch piece(BufferAllocator allocator) {
      int total = rest.rowCount();
      long bytesPerRow = Math.max(1, rest.sizeInBytes() / Math.max(1, total));
      int rows =
          (int) Math.max(1, Math.min(context.targetRows(), context.targetBytes() / bytesPerRow));
      rows = Math.min(rows, total - restRow);
      Batch out = rest.slice(allocator, restRow, rows);
      restRow += rows;
      if (restRow >= total) {
        rest.close();
        rest = null;
      }
      return out;
    }

    private void closeFile() throws IOException {
      try {
        if (reader != null) {
          reader.close();
        } else if (channel != null) {
          channel.close();
        }
      } finally {
        reader = null;
        channel = null;
        if (readerAllocator != null) {
          BufferAllocator a = readerAllocator;
          readerAllocator = null;
          a.close();
        }
      }
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        try {
          if (rest != null) {
            rest.close();
            rest = null;
          }
        } finally {
          closeFile();
        }
      }
    }

    @Override
    public String toString() {
      return NAME + "[" + split.describe() + "]";
    }
  }
}
