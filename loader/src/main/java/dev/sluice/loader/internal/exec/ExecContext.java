package dev.sluice.loader.internal.exec;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.source.ReadContext;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * What every operator state of one execution shares: the runtime, the options, the bad-record
 * allowance, the way back to the scheduling thread ({@link #post}) and the clock (nanoseconds; a
 * test's manual clock when it steps the scheduler).
 */
record ExecContext(
    ExecutionRuntime runtime,
    ExecutionOptions options,
    BadRecords badRecords,
    ReadContext readContext,
    Consumer<Runnable> post,
    ScheduledExecutorService timer,
    int epoch,
    LongSupplier clock) {}
