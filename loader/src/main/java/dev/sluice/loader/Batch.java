package dev.sluice.loader;

import dev.sluice.loader.internal.batch.BatchHosts;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.FloatingPointVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;

/**
 * A batch of rows held in Arrow memory: the unit that flows between Sluice's operators and comes
 * out of {@link Dataset#iterBatches}.
 *
 * <p><b>Ownership.</b> A batch owns its {@link VectorSchemaRoot} and every Arrow buffer behind it;
 * {@link #close()} releases them (idempotent). Who must close:
 *
 * <ul>
 *   <li>a batch returned by {@link Dataset#iterBatches} belongs to the caller, who closes it when
 *       done (try-with-resources); until then it counts against the pipeline's memory budget;
 *   <li>a batch passed to a {@link BatchFunction} belongs to Sluice: the function must neither
 *       close it nor keep it, or any array or buffer taken from it, past the call;
 *   <li>a batch a {@link BatchFunction} returns belongs to Sluice from then on (it may be the input
 *       itself).
 * </ul>
 *
 * <p>Buffers obtained from a batch ({@link #vector}, {@link #tensorData}) are views valid only
 * until the batch is closed. A batch is not thread-safe; it may be handed from one thread to
 * another with the usual happens-before edge (a queue).
 *
 * <p>{@link #sources()} names the files the rows came from, so that errors about a batch can say
 * which input they concern; sources that read samples also fill {@link #KEY_COLUMN} and {@link
 * #URL_COLUMN} so that one row can be named.
 */
public final class Batch implements AutoCloseable {

  /** Column holding a sample's key (WebDataset's {@code __key__}, a file's relative name). */
  public static final String KEY_COLUMN = "__key__";

  /** Column holding the file a sample came from (WebDataset's {@code __url__}). */
  public static final String URL_COLUMN = "__url__";

  static {
    BatchHosts.register((batch, hosts) -> batch.hosts = List.copyOf(hosts));
  }

  private final VectorSchemaRoot root;
  private final List<String> sources;
  private List<String> hosts = List.of();
  private boolean closed;
  private List<Runnable> onClose;

  /**
   * Wraps a root; the batch takes ownership of it.
   *
   * @param root the vectors, whose row count must be set
   * @param sources the files the rows came from (for error messages), possibly empty
   */
  public Batch(VectorSchemaRoot root, List<String> sources) {
    this.root = Objects.requireNonNull(root, "root");
    this.sources = List.copyOf(sources);
  }

  /** Number of rows. */
  public int rowCount() {
    return root.getRowCount();
  }

  /** The schema. */
  public Schema schema() {
    return root.getSchema();
  }

  /** The files the rows came from, in order, without duplicates. */
  public List<String> sources() {
    return sources;
  }

  /**
   * The hosts that hold the data these rows were read from (the {@linkplain
   * dev.sluice.sharding.SourceSplit#hosts() hosts of their split}), or empty when unknown or when
   * any host is as good as another. Locality metadata: inside an execution it travels on the
   * block's reference (from the split to every block made from it); the executor writes it onto a
   * batch it hands to a consumer, and {@link #slice}, {@link #select}, {@link #concat} (the union)
   * and {@link #transferTo} carry it over; {@code streamingSplit} routes by it. A batch a function
   * makes names no hosts.
   */
  public List<String> hosts() {
    return hosts;
  }

  /** Whether the batch has a column of that name. */
  public boolean hasColumn(String name) {
    for (Field f : root.getSchema().getFields()) {
      if (f.getName().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** The names of the columns, in schema order. */
  public List<String> columnNames() {
    List<String> names = new ArrayList<>();
    for (Field f : root.getSchema().getFields()) {
      names.add(f.getName());
    }
    return names;
  }

  /**
   * The raw Arrow vector of a column, valid until the batch is closed. Callers must not close or
   * resize it.
   */
  public FieldVector vector(String column) {
    checkOpen();
    FieldVector v = root.getVector(column);
    if (v == null) {
      throw new IllegalArgumentException("no column '" + column + "' in " + root.getSchema());
    }
    return v;
  }

  /** The raw root, valid until the batch is closed. Callers must not close it. */
  public VectorSchemaRoot root() {
    checkOpen();
    return root;
  }

  /** Whether the value at {@code row} of {@code column} is null. */
  public boolean isNull(String column, int row) {
    return vector(column).isNull(row);
  }

  /** The bytes of a binary, UTF-8 or tensor cell (a copy), or null. */
  public byte[] getBytes(String column, int row) {
    FieldVector v = vector(column);
    if (v.isNull(row)) {
      return null;
    }
    if (v instanceof BaseVariableWidthVector var) {
      return var.get(row);
    }
    if (v instanceof FixedSizeBinaryVector fixed) {
      return fixed.get(row);
    }
    throw new IllegalArgumentException(
        "column '" + column + "' is " + v.getField().getType() + ", not binary");
  }

  /** A UTF-8 cell (or a binary cell decoded as UTF-8) as a string, or null. */
  public String getString(String column, int row) {
    FieldVector v = vector(column);
    if (v.isNull(row)) {
      return null;
    }
    if (v instanceof VarCharVector chars) {
      return new String(chars.get(row), StandardCharsets.UTF_8);
    }
    if (v instanceof BaseVariableWidthVector bytes) {
      return new String(
          bytes.get(row), StandardCharsets.UTF_8); // binary read as UTF-8 (WebDataset .cls, .txt)
    }
    Object o = v.getObject(row);
    return o == null ? null : o.toString();
  }

  /** An integer cell (any Arrow integer width). */
  public long getLong(String column, int row) {
    FieldVector v = vector(column);
    if (v instanceof BaseIntVector ints) {
      requireNotNull(v, column, row);
      return ints.getValueAsLong(row);
    }
    throw new IllegalArgumentException(
        "column '" + column + "' is " + v.getField().getType() + ", not an integer");
  }

  /** An integer cell that must fit in an int. */
  public int getInt(String column, int row) {
    return Math.toIntExact(getLong(column, row));
  }

  /** A floating-point (or integer) cell. */
  public double getDouble(String column, int row) {
    FieldVector v = vector(column);
    if (v instanceof FloatingPointVector fp) {
      requireNotNull(v, column, row);
      return fp.getValueAsDouble(row);
    }
    if (v instanceof BaseIntVector ints) {
      requireNotNull(v, column, row);
      return ints.getValueAsLong(row);
    }
    throw new IllegalArgumentException(
        "column '" + column + "' is " + v.getField().getType() + ", not numeric");
  }

  /** The tensor spec of a tensor column. */
  public TensorSpec tensorSpec(String column) {
    TensorSpec spec = TensorSpec.fromField(vector(column).getField());
    if (spec == null) {
      throw new IllegalArgumentException("column '" + column + "' is not a tensor column");
    }
    return spec;
  }

  /**
   * The contiguous data buffer of a tensor column: row {@code i} starts at byte {@code i *
   * tensorSpec(column).rowBytes()}. A view, valid until the batch is closed.
   */
  public ArrowBuf tensorData(String column) {
    FieldVector v = vector(column);
    if (!(v instanceof FixedSizeBinaryVector)) {
      throw new IllegalArgumentException("column '" + column + "' is not a tensor column");
    }
    tensorSpec(column);
    return v.getDataBuffer();
  }

  /**
   * Bytes of Arrow memory the batch holds, as its allocator accounts them (allocations rounded up
   * as Arrow rounds them, a buffer shared by several vectors counted once).
   */
  public long sizeInBytes() {
    if (closed) {
      return 0;
    }
    java.util.Set<Object> seen =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    long total = 0;
    for (FieldVector v : root.getFieldVectors()) {
      for (ArrowBuf b : v.getFieldBuffers()) {
        if (b.capacity() > 0 && seen.add(b.getReferenceManager())) {
          total += b.getReferenceManager().getAccountedSize();
        }
      }
    }
    return total;
  }

  /** A row's key ({@link #KEY_COLUMN}) when the batch has one, else its index, for messages. */
  public String describeRow(int row) {
    StringBuilder sb = new StringBuilder();
    if (hasColumn(URL_COLUMN) && !isNull(URL_COLUMN, row)) {
      sb.append(getString(URL_COLUMN, row));
    } else if (!sources.isEmpty()) {
      sb.append(String.join(", ", sources));
    }
    if (hasColumn(KEY_COLUMN) && !isNull(KEY_COLUMN, row)) {
      sb.append(sb.length() > 0 ? " entry " : "entry ").append(getString(KEY_COLUMN, row));
    } else {
      sb.append(sb.length() > 0 ? " row " : "row ").append(row);
    }
    return sb.toString();
  }

  /**
   * A new batch holding rows {@code [from, from + length)}, allocated in {@code allocator}. The
   * buffers are copied, so the result is independent of this batch.
   */
  public Batch slice(BufferAllocator allocator, int from, int length) {
    int[] rows = new int[length];
    for (int i = 0; i < length; i++) {
      rows[i] = from + i;
    }
    return select(allocator, rows);
  }

  /**
   * A new batch of rows {@code [from, from + length)} that <em>shares</em> this batch's memory
   * instead of copying it: fixed-width columns (tensors, numbers) are slices of the same buffers,
   * variable-width columns copy only their offsets (and validity bits are copied when {@code from}
   * is not a multiple of 8). Arrow counts the references and moves the accounting to {@code
   * allocator} (which must share this batch's root), so either batch may be closed first; neither
   * may be written to afterwards. Sources and hosts are carried over.
   */
  public Batch sliceShared(BufferAllocator allocator, int from, int length) {
    checkOpen();
    if (from < 0 || length < 0 || from + length > rowCount()) {
      throw new IndexOutOfBoundsException(
          "rows [" + from + ", " + (from + length) + ") of a batch of " + rowCount());
    }
    List<Field> fields = new ArrayList<>();
    List<FieldVector> vectors = new ArrayList<>();
    try {
      for (FieldVector v : root.getFieldVectors()) {
        TransferPair tp =
            v.getTransferPair(v.getField(), allocator); // keeps field metadata (tensor shape)
        if (length > 0) {
          tp.splitAndTransfer(from, length);
        }
        vectors.add((FieldVector) tp.getTo());
        fields.add(v.getField());
      }
    } catch (RuntimeException e) {
      vectors.forEach(FieldVector::close);
      throw e;
    }
    Batch b = new Batch(new VectorSchemaRoot(fields, vectors, length), sources);
    b.hosts = hosts;
    return b;
  }

  /** A new batch with the given rows of this one, in the given order (rows may repeat). */
  public Batch select(BufferAllocator allocator, int[] rows) {
    checkOpen();
    VectorSchemaRoot out = VectorSchemaRoot.create(root.getSchema(), allocator);
    try {
      for (int c = 0; c < root.getFieldVectors().size(); c++) {
        FieldVector from = root.getVector(c);
        FieldVector to = out.getVector(c);
        allocateFor(to, from, rows);
        for (int i = 0; i < rows.length; i++) {
          to.copyFromSafe(rows[i], i, from);
        }
        to.setValueCount(rows.length);
      }
      out.setRowCount(rows.length);
      Batch b = new Batch(out, sources);
      b.hosts = hosts;
      return b;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * Concatenates batches of one schema into a new batch allocated in {@code allocator}. The inputs
   * stay owned by the caller.
   */
  public static Batch concat(BufferAllocator allocator, List<Batch> parts) {
    List<Rows> ranges = new ArrayList<>(parts.size());
    for (Batch b : parts) {
      ranges.add(new Rows(b, 0, b.rowCount()));
    }
    return concatRows(allocator, ranges);
  }

  /**
   * Rows {@code [from, from + count)} of a batch, for {@link #concatRows}.
   *
   * @param batch the batch (stays owned by its owner)
   * @param from the first row
   * @param count the number of rows
   */
  public record Rows(Batch batch, int from, int count) {
    public Rows {
      if (from < 0 || count < 0 || from + count > batch.rowCount()) {
        throw new IndexOutOfBoundsException(
            "rows [" + from + ", " + (from + count) + ") of a batch of " + batch.rowCount());
      }
    }
  }

  /**
   * A new batch of the given row ranges, in order, copied once into {@code allocator}: fixed-width
   * columns (tensors, numbers) range by range with one memory copy each, others row by row. The
   * batches must share a schema; they stay open and owned by their owners. Sources and hosts are
   * the union of theirs.
   */
  public static Batch concatRows(BufferAllocator allocator, List<Rows> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("nothing to concatenate");
    }
    Schema schema = parts.get(0).batch().schema();
    int rows = 0;
    LinkedHashSet<String> sources = new LinkedHashSet<>();
    LinkedHashSet<String> hosts = new LinkedHashSet<>();
    for (Rows part : parts) {
      Batch b = part.batch();
      b.checkOpen();
      if (!b.schema().equals(schema)) {
        throw new IllegalArgumentException(
            "cannot concatenate batches of different schemas: " + schema + " and " + b.schema());
      }
      rows += part.count();
      sources.addAll(b.sources());
      hosts.addAll(b.hosts);
    }
    VectorSchemaRoot out = VectorSchemaRoot.create(schema, allocator);
    try {
      for (int c = 0; c < schema.getFields().size(); c++) {
        FieldVector to = out.getVector(c);
        if (to instanceof BaseFixedWidthVector fixed && fixed.getTypeWidth() > 0) {
          copyFixedWidth(fixed, parts, c, rows);
          continue;
        }
        long varBytes = 0;
        for (Rows part : parts) {
          varBytes += variableBytes(part.batch().root.getVector(c), part.from(), part.count());
        }
        allocate(to, rows, varBytes);
        int at = 0;
        for (Rows part : parts) {
          FieldVector from = part.batch().root.getVector(c);
          for (int r = part.from(); r < part.from() + part.count(); r++) {
            to.copyFromSafe(r, at++, from);
          }
        }
        to.setValueCount(rows);
      }
      out.setRowCount(rows);
      Batch b = new Batch(out, new ArrayList<>(sources));
      b.hosts = List.copyOf(hosts);
      return b;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  // One memory copy per range for the values (written in full, so not cleared first), bit by bit
  // for validity.
  private static void copyFixedWidth(
      BaseFixedWidthVector to, List<Rows> parts, int column, int rows) {
    long width = to.getTypeWidth();
    if (to instanceof FixedSizeBinaryVector binary) {
      BatchBuilder.allocateUninitialized(binary, Math.max(rows, 1));
    } else {
      to.allocateNew(Math.max(rows, 1));
    }
    ArrowBuf validity = to.getValidityBuffer();
    long at = 0;
    for (Rows part : parts) {
      BaseFixedWidthVector from = (BaseFixedWidthVector) part.batch().root.getVector(column);
      if (part.count() > 0) {
        org.apache.arrow.memory.util.MemoryUtil.copyMemory(
            from.getDataBuffer().memoryAddress() + part.from() * width,
            to.getDataBuffer().memoryAddress() + at * width,
            part.count() * width);
      }
      for (int r = 0; r < part.count(); r++) {
        BitVectorHelper.setValidityBit(
            validity, (int) at + r, from.isNull(part.from() + r) ? 0 : 1);
      }
      at += part.count();
    }
    to.setValueCount(rows);
  }

  /**
   * Moves this batch's buffers into {@code allocator} without copying (same allocator root) and
   * returns the new owner; this batch is left empty and closed.
   */
  public Batch transferTo(BufferAllocator allocator) {
    checkOpen();
    List<FieldVector> moved = new ArrayList<>();
    for (FieldVector v : root.getFieldVectors()) {
      TransferPair tp =
          v.getTransferPair(v.getField(), allocator); // keeps field metadata (tensor shape)
      tp.transfer();
      moved.add((FieldVector) tp.getTo());
    }
    VectorSchemaRoot out =
        new VectorSchemaRoot(root.getSchema().getFields(), moved, root.getRowCount());
    close();
    Batch b = new Batch(out, sources);
    b.hosts = hosts;
    return b;
  }

  /**
   * A new batch of this batch's columns except {@code dropped}, <em>shared</em> rather than copied,
   * followed by all the columns of {@code added}, which is consumed (its memory moves into the new
   * batch, and it is closed). For a function that adds or replaces columns and keeps every row (a
   * parsed label, a decoded image): no byte of the kept columns is copied.
   *
   * <p>Sharing: the kept columns' buffers are referenced by both batches (Arrow counts references
   * and moves the accounting to {@code allocator}), so either batch may be closed first; neither
   * may be written to afterwards. Variable-width columns copy only their offsets.
   *
   * @throws IllegalArgumentException when {@code added} has another row count or a column name that
   *     is kept from this batch
   */
  public Batch withColumnsOf(
      BufferAllocator allocator, java.util.Collection<String> dropped, Batch added) {
    checkOpen();
    added.checkOpen();
    int n = rowCount();
    if (added.rowCount() != n) {
      throw new IllegalArgumentException(
          "cannot add " + added.rowCount() + " rows of columns to a batch of " + n);
    }
    List<Field> fields = new ArrayList<>();
    List<FieldVector> vectors = new ArrayList<>();
    try {
      for (FieldVector v : root.getFieldVectors()) {
        if (dropped.contains(v.getName())) {
          continue;
        }
        if (added.hasColumn(v.getName())) {
          throw new IllegalArgumentException(
              "column '" + v.getName() + "' is both kept and added; drop it first");
        }
        TransferPair tp =
            v.getTransferPair(v.getField(), allocator); // keeps field metadata (tensor shape)
        if (n > 0) {
          tp.splitAndTransfer(0, n); // slices (shares) the buffers; the source stays valid
        }
        vectors.add((FieldVector) tp.getTo());
        fields.add(v.getField());
      }
      try (Batch moved = added.transferTo(allocator)) {
        for (FieldVector v : moved.root.getFieldVectors()) {
          TransferPair tp = v.getTransferPair(v.getField(), allocator);
          tp.transfer();
          vectors.add((FieldVector) tp.getTo());
          fields.add(v.getField());
        }
      }
    } catch (RuntimeException e) {
      vectors.forEach(FieldVector::close);
      throw e;
    }
    VectorSchemaRoot out = new VectorSchemaRoot(fields, vectors, n);
    Batch b = new Batch(out, sources);
    b.hosts = hosts;
    return b;
  }

  /** Whether {@link #close()} has been called. */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Registers an action to run once, right after this batch's memory is released (in the order
   * registered, on the thread that closes the batch). The executor uses it to learn that a consumer
   * freed memory and to close the allocator a block was made in.
   */
  public void onClose(Runnable hook) {
    if (closed) {
      hook.run();
      return;
    }
    if (onClose == null) {
      onClose = new ArrayList<>(2);
    }
    onClose.add(hook);
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      root.close();
      List<Runnable> hooks = onClose;
      onClose = null;
      if (hooks != null) {
        hooks.forEach(Runnable::run);
      }
    }
  }

  @Override
  public String toString() {
    return "Batch["
        + rowCount()
        + " rows, "
        + columnNames()
        + (sources.isEmpty() ? "" : ", from " + sources)
        + "]";
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("batch is closed");
    }
  }

  private static void requireNotNull(ValueVector v, String column, int row) {
    if (v.isNull(row)) {
      throw new IllegalStateException("null at column '" + column + "' row " + row);
    }
  }

  private static long variableBytes(FieldVector v) {
    return variableBytes(v, 0, v.getValueCount());
  }

  private static long variableBytes(FieldVector v, int from, int count) {
    if (v instanceof BaseVariableWidthVector var && count > 0) {
      return var.getOffsetBuffer().getInt((long) (from + count) * 4)
          - var.getOffsetBuffer().getInt((long) from * 4);
    }
    return 0;
  }

  private static void allocateFor(FieldVector to, FieldVector from, int[] rows) {
    long varBytes = 0;
    if (from instanceof BaseVariableWidthVector var) {
      for (int r : rows) {
        varBytes += var.isNull(r) ? 0 : var.getValueLength(r);
      }
    }
    allocate(to, rows.length, varBytes);
  }

  /**
   * A builder of one batch of up to {@code capacity} rows of {@code like}'s schema, filled by
   * appending row ranges of other batches as they come, in {@code allocator}. A caller that closes
   * each source once its rows are in holds one batch and one source at a time, where {@link
   * #concatRows} needs the batch and all its sources at once.
   */
  static Appender appender(BufferAllocator allocator, Batch like, int capacity) {
    return new Appender(allocator, like, capacity);
  }

  /** See {@link #appender}. Not thread-safe; closing it before {@link #build()} frees its rows. */
  static final class Appender implements AutoCloseable {
    private final Schema schema;
    private final VectorSchemaRoot root;
    private final int capacity;
    private final LinkedHashSet<String> sources = new LinkedHashSet<>();
    private final LinkedHashSet<String> hosts = new LinkedHashSet<>();
    private int rows;
    private boolean done;

    private Appender(BufferAllocator allocator, Batch like, int capacity) {
      if (capacity < 1) {
        throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
      }
      like.checkOpen();
      this.schema = like.schema();
      this.capacity = capacity;
      this.root = VectorSchemaRoot.create(schema, allocator);
      try {
        for (int c = 0; c < schema.getFields().size(); c++) {
          FieldVector to = root.getVector(c);
          if (to instanceof FixedSizeBinaryVector binary) {
            BatchBuilder.allocateUninitialized(
                binary, capacity); // every row is written before build
          } else {
            // Variable-width columns start at the sample's bytes per row and grow if needed.
            FieldVector from = like.root.getVector(c);
            long perRow = like.rowCount() == 0 ? 0 : variableBytes(from) / like.rowCount();
            allocate(to, capacity, perRow * capacity);
          }
        }
      } catch (RuntimeException e) {
        root.close();
        throw e;
      }
    }

    /** Rows appended so far. */
    int rows() {
      return rows;
    }

    /** Appends rows {@code [from, from + count)} of {@code batch} (which stays the caller's). */
    void append(Batch batch, int from, int count) {
      batch.checkOpen();
      if (done) {
        throw new IllegalStateException("already built or closed");
      }
      if (!batch.schema().equals(schema)) {
        throw new IllegalArgumentException(
            "cannot append a batch of schema " + batch.schema() + " to " + schema);
      }
      if (from < 0 || count < 0 || from + count > batch.rowCount() || rows + count > capacity) {
        throw new IndexOutOfBoundsException(
            "rows ["
                + from
                + ", "
                + (from + count)
                + ") of "
                + batch.rowCount()
                + " into "
                + rows
                + " of "
                + capacity);
      }
      for (int c = 0; c < schema.getFields().size(); c++) {
        FieldVector to = root.getVector(c);
        FieldVector src = batch.root.getVector(c);
        if (to instanceof BaseFixedWidthVector fixed && fixed.getTypeWidth() > 0) {
          long width = fixed.getTypeWidth();
          BaseFixedWidthVector f = (BaseFixedWidthVector) src;
          if (count > 0) {
            org.apache.arrow.memory.util.MemoryUtil.copyMemory(
                f.getDataBuffer().memoryAddress() + from * width,
                fixed.getDataBuffer().memoryAddress() + rows * width,
                count * width);
          }
          for (int r = 0; r < count; r++) {
            BitVectorHelper.setValidityBit(
                fixed.getValidityBuffer(), rows + r, f.isNull(from + r) ? 0 : 1);
          }
        } else {
          for (int r = 0; r < count; r++) {
            to.copyFromSafe(from + r, rows + r, src);
          }
        }
      }
      rows += count;
      sources.addAll(batch.sources());
      hosts.addAll(batch.hosts);
    }

    /** The batch of the rows appended; the appender is spent. */
    Batch build() {
      if (done) {
        throw new IllegalStateException("already built or closed");
      }
      done = true;
      for (FieldVector v : root.getFieldVectors()) {
        v.setValueCount(rows);
      }
      root.setRowCount(rows);
      Batch b = new Batch(root, new ArrayList<>(sources));
      b.hosts = List.copyOf(hosts);
      return b;
    }

    @Override
    public void close() {
      if (!done) {
        done = true;
        root.close();
      }
    }
  }

  /** Sizes a vector exactly, so that copying in does not grow it by doubling. */
  static void allocate(FieldVector to, int rows, long varBytes) {
    if (to instanceof BaseVariableWidthVector var) {
      var.allocateNew(Math.max(varBytes, 1), Math.max(rows, 1));
    } else if (to instanceof BaseFixedWidthVector fixed) {
      fixed.allocateNew(Math.max(rows, 1));
    } else {
      to.setInitialCapacity(Math.max(rows, 1));
      to.allocateNew();
    }
  }
}
