package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.sink.ParquetSink;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.dataset.file.FileSystemDatasetFactory;
import org.apache.arrow.dataset.jni.NativeMemoryPool;
import org.apache.arrow.dataset.scanner.ScanOptions;
import org.apache.arrow.dataset.scanner.Scanner;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;

/**
 * Parquet files, read with Arrow's own Parquet reader (C++, through {@code arrow-dataset}'s JNI:
 * {@link FileSystemDatasetFactory} and {@link Scanner}).
 *
 * <p><b>Splits.</b> One split per row group (or per {@link Builder#rowGroupsPerSplit} consecutive
 * row groups) of each file, in the sorted expansion of the patterns ({@link PathPatterns}; a
 * literal directory stands for the {@code .parquet}, {@code .parq} and {@code .pq} files directly
 * in it, skipping names starting with {@code .} or {@code _}). {@link SourceSplit#start()} and
 * {@link SourceSplit#end()} count row groups; {@code estimatedRows} is exact and {@code
 * estimatedBytes} the file's size shared by rows. Planning reads each file's footer through Arrow.
 *
 * <p><b>Cost of a row group.</b> Arrow 18's JNI scans whole files: it cannot be told to read one
 * row group (Arrow's Substrait reader refuses byte ranges too). The reader of row group {@code k}
 * therefore reads and drops the row groups before it (only the projected columns), so a file of
 * {@code g} row groups cut into {@code g} splits decodes about {@code g / 2} times its data. For
 * files of many row groups read sequentially, {@code rowGroupsPerSplit(Integer.MAX_VALUE)} (one
 * split per file) reads each row group once.
 *
 * <p><b>Columns.</b> All, or those named by {@link Builder#columns} in that order (a name missing
 * from a file is an {@link IOException} naming the file and its columns). A tensor column ({@link
 * TensorSpec}) is a fixed-size binary column whose field metadata carries the shape and element
 * type. Arrow's JNI writer keeps no field metadata in the file, so {@link ParquetSink} writes the
 * schema beside the files ({@value ParquetSink#SCHEMA_FILE}); this source puts the tensor metadata
 * found there back on the matching columns (same name, fixed-size binary of the tensor's width), so
 * a Parquet round trip keeps tensors as tensors. {@link Builder#tensor} names the tensor columns of
 * files written elsewhere ({@code FIXED_LEN_BYTE_ARRAY} columns of the tensor's bytes,
 * little-endian).
 *
 * <p><b>Batches and memory.</b> Each batch holds at most {@link ReadContext#targetRows()} rows (the
 * scanner's batch size) and about {@link ReadContext#targetBytes()} bytes; a batch never spans row
 * groups. Arrow's C++ reader decodes into its own native memory; each batch it hands over is
 * imported (C data interface, no copy) into a staging allocator of the reader's own, then copied
 * into the allocator passed to {@code next}, buffer by buffer (or row by row for a piece of a batch
 * larger than the byte target, which stays in staging until its last piece is handed on). So every
 * batch returned is Java memory accounted where the execution expects it, independent of the
 * reader, and the memory budget holds. Outside the budget: what the C++ reader holds while it
 * decodes (a row group's pages, its read-ahead) and the one imported batch in staging. {@link
 * SplitReader#close()} releases all of it and closes the staging allocator, which fails if any byte
 * were still outstanding. (The staging allocator is the reader's own rather than a child of the one
 * passed to {@code next}: that one belongs to a task, and closes when the task's block is released,
 * while the reader lives on.)
 *
 * <p><b>Bad input.</b> A file whose footer cannot be read is an {@link IOException} naming it (when
 * planning, or when opening a split). When Arrow's reader fails while reading a split (a page that
 * does not decode), the failure is reported to {@link ReadContext#badRecords()} as one bad record
 * naming the file, the split's row group being read and the row reached; within the allowance the
 * rest of the split is skipped. Arrow decodes row groups ahead of the one it returns and stops at
 * the first error, so the fault may lie in a later row group than the one named, and every split of
 * the file that reads past the faulty row group (or ahead into it) fails the same way. (Parquet
 * pages carry no checksum by default: damaged values that still decode are not detected.)
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time.
 */
public final class ParquetSource implements Source {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadParquet";

  private final List<String> patterns;
  private final List<String> columns;
  private final int rowGroupsPerSplit;
  private final Map<String, TensorSpec> tensors;
  private final String sourceId;

  private ParquetSource(Builder b) {
    this.patterns = b.patterns;
    this.columns = b.columns;
    this.rowGroupsPerSplit = b.rowGroupsPerSplit;
    this.tensors = Map.copyOf(b.tensors);
    this.sourceId = b.sourceId != null ? b.sourceId : "parquet:" + String.join(",", patterns);
  }

  /** Files named by the given patterns, all columns, one split per row group. */
  public static ParquetSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** Configures a {@link ParquetSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private List<String> columns;
    private int rowGroupsPerSplit = 1;
    private final Map<String, TensorSpec> tensors = new LinkedHashMap<>();
    private String sourceId;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no file patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** Reads only these columns, in this order (default: all, in the file's order). */
    public Builder columns(String... columns) {
      if (columns.length == 0) {
        throw new IllegalArgumentException("no columns given");
      }
      this.columns = List.of(columns);
      return this;
    }

    /** Consecutive row groups per split (default 1; {@link Integer#MAX_VALUE}: one per file). */
    public Builder rowGroupsPerSplit(int rowGroups) {
      if (rowGroups <= 0) {
        throw new IllegalArgumentException("rowGroupsPerSplit must be positive: " + rowGroups);
      }
      this.rowGroupsPerSplit = rowGroups;
      return this;
    }

    /**
     * Reads column {@code column} (fixed-size binary of {@code spec.rowBytes()} bytes) as a tensor
     * column of this shape and element type, overriding what {@value ParquetSink#SCHEMA_FILE} says.
     */
    public Builder tensor(String column, TensorSpec spec) {
      tensors.put(Objects.requireNonNull(column, "column"), Objects.requireNonNull(spec, "spec"));
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /** The source. Touches no storage. */
    public ParquetSource build() {
      return new ParquetSource(this);
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  /** The columns read, or null for all. */
  public List<String> columns() {
    return columns;
  }

  /** Whether a file name looks like a Parquet file this source reads from a directory. */
  public static boolean isParquetFile(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return !name.startsWith(".")
        && !name.startsWith("_")
        && (name.endsWith(".parquet") || name.endsWith(".parq") || name.endsWith(".pq"));
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    List<Path> files =
        PathPatterns.expand(patterns, PathPatterns.Directories.list(ParquetSource::isParquetFile));
    List<SourceSplit> splits = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (Path file : files) {
        long[] groups = rowGroupRows(file, allocator);
        long total = 0;
        for (long rows : groups) {
          total += rows;
        }
        long size = Files.size(file);
        for (int from = 0; from < groups.length; from += rowGroupsPerSplit) {
          int to = (int) Math.min(groups.length, (long) from + rowGroupsPerSplit);
          long rows = 0;
          for (int g = from; g < to; g++) {
            rows += groups[g];
          }
          splits.add(
              new SourceSplit(
                  sourceId,
                  splits.size(),
                  List.of(file.toString()),
                  from,
                  to,
                  rows,
                  total == 0 ? size : Math.max(1, size * rows / total),
                  List.of()));
        }
      }
    }
    return splits;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    if (split.paths().size() != 1) {
      throw new IllegalArgumentException("a Parquet split reads one file: " + split.describe());
    }
    Path file = Paths.get(split.paths().get(0));
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such Parquet file");
    }
    return new FileReader(file, split, context);
  }

  @Override
  public String toString() {
    return NAME + patterns + (columns == null ? "" : " columns " + columns);
  }

  /** The file's dataset factory, or an {@link IOException} naming the file. */
  private static FileSystemDatasetFactory factory(Path file, BufferAllocator allocator)
      throws IOException {
    try {
      return new FileSystemDatasetFactory(
          allocator, NativeMemoryPool.getDefault(), FileFormat.PARQUET, file.toUri().toString());
    } catch (RuntimeException e) {
      throw new IOException("cannot read Parquet file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * The rows of each row group of a file: a scan of no column reads only the footer and gives one
   * batch per row group (Arrow never joins row groups into one batch).
   */
  private static long[] rowGroupRows(Path file, BufferAllocator allocator) throws IOException {
    List<Long> rows = new ArrayList<>();
    try (FileSystemDatasetFactory factory = factory(file, allocator);
        org.apache.arrow.dataset.source.Dataset dataset = factory.finish();
        Scanner scanner =
            dataset.newScan(new ScanOptions(Integer.MAX_VALUE, Optional.of(new String[0])));
        ArrowReader reader = scanner.scanBatches()) {
      while (reader.loadNextBatch()) {
        rows.add((long) reader.getVectorSchemaRoot().getRowCount());
      }
    } catch (IOException | RuntimeException e) {
      throw new IOException(
          "cannot read the footer of Parquet file " + file + ": " + e.getMessage(), e);
    } catch (Exception e) {
      throw new IOException("cannot close the reader of Parquet file " + file, e);
    }
    return rows.stream().mapToLong(Long::longValue).toArray();
  }

  /** Tensor specs of the columns: from the schema file beside {@code file}, then the builder's. */
  private Map<String, TensorSpec> tensorSpecs(Path file) throws IOException {
    Map<String, TensorSpec> specs = new HashMap<>();
    Path parent = file.toAbsolutePath().getParent();
    Path schemaFile = parent == null ? null : parent.resolve(ParquetSink.SCHEMA_FILE);
    if (schemaFile != null && Files.isRegularFile(schemaFile)) {
      Schema written;
      try {
        written = Schema.fromJSON(Files.readString(schemaFile, StandardCharsets.UTF_8));
      } catch (IOException | RuntimeException e) {
        throw new IOException("cannot read the schema file " + schemaFile + ": " + e, e);
      }
      for (Field f : written.getFields()) {
        TensorSpec spec = TensorSpec.fromField(f);
        if (spec != null) {
          specs.put(f.getName(), spec);
        }
      }
    }
    specs.putAll(tensors);
    return specs;
  }

  private final class FileReader implements SplitReader {
    private final Path file;
    private final SourceSplit split;
    private final ReadContext context;

    private BufferAllocator staging;
    private FileSystemDatasetFactory factory;
    private org.apache.arrow.dataset.source.Dataset dataset;
    private Scanner scanner;
    private ArrowReader reader;
    private List<Field> fields;

    /** Rows of each row group; the file's row the scanner is at; the split's first and end rows. */
    private long[] groups;

    private long position;
    private long from;
    private long to;

    /**
     * Rows {@code [pieceRow, pieceEnd)} of the scanner's current batch still to hand on, in pieces
     * of about the target size; the batch stays in the staging allocator meanwhile.
     */
    private int pieceRow;

    private int pieceEnd;
    private boolean done;
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
      if (pieceRow < pieceEnd) {
        return piece(allocator);
      }
      if (done) {
        return null;
      }
      if (factory == null) {
        openFile();
      }
      while (position < to) {
        if (reader == null) {
          openScanner();
        }
        long batchStart = position;
        int rows;
        try {
          if (!reader.loadNextBatch()) {
            throw new IOException(
                "Parquet file "
                    + file
                    + " ends at row "
                    + position
                    + ", before the "
                    + to
                    + " rows its footer counts (was it rewritten since planning?)");
          }
          rows = reader.getVectorSchemaRoot().getRowCount();
        } catch (RuntimeException | IOException e) {
          reportBadRowGroup(e);
          return null;
        }
        position += rows;
        long keepFrom = Math.max(batchStart, from);
        long keepTo = Math.min(position, to);
        if (keepTo <= keepFrom) {
          continue; // a row group before the split's: read only to be passed over
        }
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        int first = (int) (keepFrom - batchStart);
        int count = (int) (keepTo - keepFrom);
        if (first == 0 && count == rows && sizeInBytes(root) <= context.targetBytes()) {
          return copyOut(root, allocator);
        }
        pieceRow = first;
        pieceEnd = first + count;
        return piece(allocator);
      }
      return null;
    }

    /**
     * Reports a failure of Arrow's reader as one bad record, ending the split: Arrow's scanner
     * cannot go on after an error, so the split's rows not yet returned are lost with it. Arrow
     * decodes row groups ahead of the one it returns, so the fault lies in the row group at {@link
     * #position} or in one after it; the message says so. Throws when the allowance is used up.
     */
    private void reportBadRowGroup(Exception e) {
      int group = groupAt(position);
      closeScanner();
      done = true;
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      int first = (int) split.start();
      int at = Math.max(group, first);
      String lost =
          split.end() - 1 > at
              ? "; row groups " + at + ".." + (split.end() - 1) + " of this split are skipped"
              : "";
      context
          .badRecords()
          .report(
              NAME,
              file.toString(),
              "row group " + at,
              new IOException(
                  "corrupt Parquet file "
                      + file
                      + ": reading row group "
                      + at
                      + " failed at row "
                      + position
                      + " of the file (row group "
                      + group
                      + "; Arrow reads row groups ahead, so the fault may lie in a later one): "
                      + why
                      + lost,
                  e));
    }

    private int groupAt(long row) {
      long end = 0;
      for (int g = 0; g < groups.length; g++) {
        end += groups[g];
        if (row < end) {
          return g;
        }
      }
      return groups.length - 1;
    }

    private long rowGroupEnd(int group) {
      long end = 0;
      for (int g = 0; g <= group; g++) {
        end += groups[g];
      }
      return end;
    }

    private void openFile() throws IOException {
      staging = new RootAllocator();
      try {
        groups = rowGroupRows(file, staging);
        long end = split.end() == -1 ? groups.length : split.end();
        if (split.start() > groups.length || end > groups.length) {
          throw new IOException(
              "Parquet file "
                  + file
                  + " holds "
                  + groups.length
                  + " row groups, fewer than split "
                  + split.describe()
                  + " needs (was it rewritten since planning?)");
        }
        from = split.start() == 0 ? 0 : rowGroupEnd((int) split.start() - 1);
        to = end == 0 ? 0 : rowGroupEnd((int) end - 1);
        factory = factory(file, staging);
        Schema schema;
        try {
          schema = factory.inspect();
        } catch (RuntimeException e) {
          throw new IOException(
              "cannot read the schema of Parquet file " + file + ": " + e.getMessage(), e);
        }
        fields = outputFields(schema);
        try {
          dataset = factory.finish();
        } catch (RuntimeException e) {
          throw new IOException("cannot open Parquet file " + file + ": " + e.getMessage(), e);
        }
      } catch (IOException | RuntimeException e) {
        closeAll();
        throw e;
      }
    }

    /** The fields of the batches: the projection, tensor metadata put back. */
    private List<Field> outputFields(Schema schema) throws IOException {
      Map<String, Field> byName = new LinkedHashMap<>();
      for (Field f : schema.getFields()) {
        byName.put(f.getName(), f);
      }
      List<String> names = columns == null ? new ArrayList<>(byName.keySet()) : columns;
      Map<String, TensorSpec> specs = tensorSpecs(file);
      List<Field> out = new ArrayList<>();
      for (String name : names) {
        Field f = byName.get(name);
        if (f == null) {
          throw new IOException(
              "Parquet file "
                  + file
                  + " has no column '"
                  + name
                  + "' (its columns: "
                  + byName.keySet()
                  + ")");
        }
        TensorSpec spec = specs.get(name);
        if (spec != null) {
          if (!(f.getType() instanceof ArrowType.FixedSizeBinary fixed)
              || fixed.getByteWidth() != spec.rowBytes()) {
            if (tensors.containsKey(name)) {
              throw new IOException(
                  "Parquet file "
                      + file
                      + ": column '"
                      + name
                      + "' is "
                      + f.getType()
                      + ", not the fixed-size binary of "
                      + spec.rowBytes()
                      + " bytes a tensor "
                      + spec
                      + " needs");
            }
            // The schema file describes other data than this file's column: keep the column as is.
          } else {
            Map<String, String> meta = new HashMap<>();
            if (f.getMetadata() != null) {
              meta.putAll(f.getMetadata());
            }
            meta.putAll(spec.toField(name).getMetadata());
            f =
                new Field(
                    name,
                    new FieldType(f.isNullable(), f.getType(), f.getDictionary(), meta),
                    f.getChildren());
          }
        }
        out.add(f);
      }
      return out;
    }

    private void openScanner() throws IOException {
      String[] projection = fields.stream().map(Field::getName).toArray(String[]::new);
      try {
        scanner = dataset.newScan(new ScanOptions(context.targetRows(), Optional.of(projection)));
        reader = scanner.scanBatches();
      } catch (RuntimeException e) {
        closeScanner();
        throw new IOException("cannot scan Parquet file " + file + ": " + e.getMessage(), e);
      }
      position = 0;
    }

    /**
     * Copies the scanner's batch, buffer by buffer, into {@code allocator} under the output fields,
     * and releases the imported one back to Arrow's reader.
     */
    private Batch copyOut(VectorSchemaRoot root, BufferAllocator allocator) {
      VectorSchemaRoot out = null;
      try (ArrowRecordBatch imported = new VectorUnloader(root).getRecordBatch()) {
        List<ArrowBuf> copies = new ArrayList<>(imported.getBuffers().size());
        try {
          for (ArrowBuf buffer : imported.getBuffers()) {
            long length = buffer.readableBytes();
            ArrowBuf copy = allocator.buffer(length);
            copies.add(copy);
            copy.setBytes(0, buffer, 0, length);
            copy.writerIndex(length);
          }
          out = VectorSchemaRoot.create(new Schema(fields), allocator);
          try (ArrowRecordBatch copied =
              new ArrowRecordBatch(imported.getLength(), imported.getNodes(), copies)) {
            new VectorLoader(out).load(copied);
          }
        } finally {
          copies.forEach(ArrowBuf::close);
        }
        Batch batch = new Batch(out, List.of(file.toString()));
        out = null;
        return batch;
      } finally {
        if (out != null) {
          out.close();
        }
        root.clear();
      }
    }

    /**
     * The next piece of rows {@code [pieceRow, pieceEnd)} of the scanner's batch, copied into
     * {@code allocator}; the batch is released with its last piece.
     */
    private Batch piece(BufferAllocator allocator) throws IOException {
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      long bytesPerRow = Math.max(1, sizeInBytes(root) / Math.max(1, root.getRowCount()));
      int rows =
          (int) Math.max(1, Math.min(context.targetRows(), context.targetBytes() / bytesPerRow));
      rows = Math.min(rows, pieceEnd - pieceRow);
      List<FieldVector> copies = new ArrayList<>(fields.size());
      try {
        List<FieldVector> vectors = root.getFieldVectors();
        for (int c = 0; c < vectors.size(); c++) {
          TransferPair tp = vectors.get(c).getTransferPair(fields.get(c), allocator);
          FieldVector to = (FieldVector) tp.getTo();
          copies.add(to);
          to.setInitialCapacity(rows);
          to.allocateNew();
          for (int r = 0; r < rows; r++) {
            tp.copyValueSafe(pieceRow + r, r);
          }
          to.setValueCount(rows);
        }
      } catch (RuntimeException e) {
        copies.forEach(FieldVector::close);
        throw e;
      }
      pieceRow += rows;
      if (pieceRow >= pieceEnd) {
        pieceRow = 0;
        pieceEnd = 0;
        root.clear();
      }
      return new Batch(new VectorSchemaRoot(fields, copies, rows), List.of(file.toString()));
    }

    private static long sizeInBytes(VectorSchemaRoot root) {
      long bytes = 0;
      for (FieldVector v : root.getFieldVectors()) {
        bytes += v.getBufferSize();
      }
      return bytes;
    }

    private void closeScanner() {
      List<AutoCloseable> open = new ArrayList<>();
      if (reader != null) {
        open.add(reader);
      }
      if (scanner != null) {
        open.add(scanner);
      }
      reader = null;
      scanner = null;
      for (AutoCloseable c : open) {
        try {
          c.close();
        } catch (Exception e) {
          // A scanner that failed may fail to close as well; its native memory goes with it.
        }
      }
    }

    private void closeAll() throws IOException {
      closeScanner();
      try {
        if (dataset != null) {
          dataset.close();
        }
        if (factory != null) {
          factory.close();
        }
      } catch (Exception e) {
        throw new IOException("cannot close the reader of Parquet file " + file, e);
      } finally {
        dataset = null;
        factory = null;
        if (staging != null) {
          BufferAllocator a = staging;
          staging = null;
          a.close();
        }
      }
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        closeAll();
      }
    }

    @Override
    public String toString() {
      return NAME + "[" + split.describe() + "]";
    }
  }
}
