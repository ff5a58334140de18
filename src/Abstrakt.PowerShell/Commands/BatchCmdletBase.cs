using System;
using System.IO;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Output;
using Abstrakt.PowerShell.Session;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// The pipeline side of the batch engine, shared by every cmdlet that runs items. Follows
    /// ForEach-Object -Parallel: Begin starts the engine; Process writes what is ready, then hands the item
    /// over (waiting, while still writing, when the engine's input is full); End drains until the engine is
    /// done; StopProcessing only cancels; Dispose cancels and releases (Select-Object -First ends early).
    /// Write* is only ever called here, on the pipeline thread.
    /// </summary>
    public abstract class BatchCmdletBase : PSCmdlet, IDisposable
    {
        private const int ActivityId = 0x4ab5;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Stopwatch _progressClock = new Stopwatch();
        private readonly CostEstimate _estimate = new CostEstimate();
        private BatchRun? _run;
        private long _nextIndex;
        private bool _progressShown;
        private bool _warnedUnbound;

        /// <summary>The most requests in flight at once.</summary>
        [Parameter]
        [ValidateRange(1, 256)]
        public int ThrottleLimit { get; set; } = 5;

        /// <summary>Retries of a retryable failure per item.</summary>
        [Parameter]
        [ValidateRange(0, 20)]
        public int MaxRetry { get; set; } = 3;

        /// <summary>Each item's overall deadline in seconds, across retries and polling.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 600;

        /// <summary>Where outputs are downloaded.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OutputDirectory { get; set; }

        /// <summary>Download outputs from loopback, link-local and private-range hosts too.</summary>
        [Parameter]
        public SwitchParameter AllowPrivateOutputHost { get; set; }

        /// <summary>Whether outputs named after their source images replace existing files (-Force, where a cmdlet offers it).</summary>
        private protected virtual bool ReplaceOutputs => false;

        /// <summary>The activity shown on the progress bar.</summary>
        protected abstract string Activity { get; }

        /// <summary>The model items use when they name none.</summary>
        protected abstract string DefaultModel { get; }

        /// <summary>Lets a derived cmdlet add journal, plan or webhook settings.</summary>
        /// <param name="options">The options built from the common parameters.</param>
        /// <param name="connection">The connection the batch runs on.</param>
        private protected virtual void Configure(BatchOptions options, AbstraktConnection connection)
        {
        }

        /// <summary>Lets a derived cmdlet release what it started for the batch (a webhook listener).</summary>
        private protected virtual void Release()
        {
        }

        /// <summary>True under -WhatIf: items are counted and priced, nothing is sent.</summary>
        protected bool WhatIfOnly => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent;

        /// <summary>Starts the engine on the session's connection (not under -WhatIf).</summary>
        protected void StartBatch()
        {
            if (WhatIfOnly)
            {
                return;
            }

            var connection = AbstraktSession.Resolve(this);
            var options = new BatchOptions
            {
                ThrottleLimit = ThrottleLimit,
                MaxRetry = MaxRetry,
                ItemTimeout = TimeSpan.FromSeconds(TimeoutSec),
                DefaultModel = DefaultModel,
                OutputDirectory = OutputDirectory is null ? null : GetUnresolvedProviderPathFromPSPath(OutputDirectory),
                AllowPrivateOutputHost = AllowPrivateOutputHost,
                Force = ReplaceOutputs,
                TraceRequests = VerboseWanted(),
            };
            Configure(options, connection);
            // The plan's concurrency (the guide's smallest is 2), from the limit the first answer reports: no request
            // of its own, which under a small limit would take a slot of the batch's first window.
            if (options.PlanConcurrency is null && options.ThrottleLimit > 2)
            {
                options.ConcurrencyForLimit = PlanGuidance.ConcurrencyFor;
            }

            try
            {
                _run = BatchRun.Start(connection.Client, options, _stop.Token);
            }
            catch (JournalException ex)
            {
                var (id, category) = ex.ErrorId switch
                {
                    "JournalExists" => (ErrorIds.JournalExists, ErrorCategory.InvalidData),
                    "JournalDiffers" => (ErrorIds.JournalDiffers, ErrorCategory.InvalidData),
                    "JournalInUse" => (ErrorIds.JournalInUse, ErrorCategory.ResourceBusy),
                    "StoreUnavailable" => (ErrorIds.StoreUnavailable, ErrorCategory.ConnectionError),
                    "StoreInvalid" => (ErrorIds.StoreInvalid, ErrorCategory.InvalidArgument),
                    _ => (ErrorIds.JournalCorrupt, ErrorCategory.InvalidData),
                };
                ThrowTerminatingError(new ErrorRecord(ex, id, category, (object?)options.JournalPath ?? options.BatchName));
            }
            catch (Exception ex) when (options.JournalPath is not null && ex is IOException or UnauthorizedAccessException)
            {
                // A folder, a read-only file, a missing drive: say which path and why, not a bare .NET exception.
                ThrowTerminatingError(new ErrorRecord(
                    new IOException($"The journal '{options.JournalPath}' cannot be opened: {ex.Message}", ex),
                    ErrorIds.JournalUnusable,
                    ErrorCategory.WriteError,
                    options.JournalPath));
            }
            catch (ArgumentException ex) when (options.OutputDirectory is not null && ex.ParamName == "directory")
            {
                ThrowTerminatingError(ErrorRecords.Argument(ex, ErrorIds.InvalidOutputDirectory, ErrorCategory.WriteError, OutputDirectory));
            }

            WriteVerbose($"Batch started on {connection.Endpoint} with {_run!.Concurrency} at a time" + (_run.StoreDescription is null ? "." : $", {_run.StoreDescription}."));
            if (_run.ResumedNothing)
            {
                // Scripts pass -Resume always; a mistyped path must not go unnoticed.
                WriteWarning($"Nothing to resume: the {_run.StoreDescription} was missing or empty. The batch starts from the beginning.");
            }
            _progressClock.Start();
        }

        /// <summary>True when verbose output would be shown (-Verbose, or $VerbosePreference), so request tracing costs nothing otherwise.</summary>
        private bool VerboseWanted()
        {
            if (MyInvocation.BoundParameters.TryGetValue("Verbose", out var v))
            {
                return v is SwitchParameter s && s.IsPresent;
            }

            return GetVariableValue("VerbosePreference") is ActionPreference p && p is ActionPreference.Continue or ActionPreference.Inquire;
        }

        /// <summary>Hands one item to the engine, writing what is ready while it waits.</summary>
        /// <param name="prompt">The prompt.</param>
        /// <param name="model">The model, or null for the default.</param>
        /// <param name="input">Extra inputs.</param>
        /// <param name="id">A stable id, or null.</param>
        /// <param name="source">The pipeline object, returned as TargetObject on failure.</param>
        /// <param name="image">The source image for an image model, or null.</param>
        private protected void Submit(string prompt, string? model, System.Collections.Generic.IReadOnlyDictionary<string, object?> input, string? id, object? source, ImageInput? image = null)
        {
            var item = new WorkItem(++_nextIndex, prompt, model, input, id, source, image);
            var runOn = model ?? DefaultModel;
            var outputs = CostEstimate.Outputs(input);
            if (WhatIfOnly)
            {
                _estimate.Add(runOn, outputs);
                return;
            }

            if (!ShouldProcess($"item {item.Label}", CostEstimate.Describe(runOn, outputs)))
            {
                return;
            }

            Drain();
            while (!_run!.TryAdd(item))
            {
                if (_stop.IsCancellationRequested || _run.Completion.IsCompleted)
                {
                    Drain();
                    return;
                }

                // Backpressure: sleep until an event arrives, the input has room, or the batch ends.
                _run.WhenReadyAsync(wantRoom: true).Wait();
                Drain();
            }
        }

        /// <summary>
        /// The image an item names, checked before anything is sent: a missing, too large or non-image file is that
        /// item's error (written here, its index skipped) and the batch goes on.
        /// </summary>
        /// <param name="reference">A path or URL, or null for none.</param>
        /// <param name="target">The input item, the error's TargetObject.</param>
        /// <param name="image">The image, or null when none was named.</param>
        /// <returns>False when the image cannot be sent.</returns>
        private protected bool TryImage(string? reference, object? target, out ImageInput? image)
        {
            image = null;
            if (reference is null)
            {
                return true;
            }

            try
            {
                image = ImageReference.Resolve(this, reference);
                return true;
            }
            catch (ImageInputException ex)
            {
                SkipIndex();
                WriteError(ImageReference.Error(ex, target));
                return false;
            }
        }

        /// <summary>The index the next item gets: its 1-based position in the input.</summary>
        protected long NextIndex => _nextIndex + 1;

        /// <summary>Skips an index for an input that was rejected before reaching the engine.</summary>
        protected void SkipIndex() => _nextIndex++;

        /// <summary>Warns, once per batch, about the columns of a row that nothing binds (they would be dropped silently).</summary>
        /// <param name="row">The pipeline object.</param>
        /// <param name="binds">Whether a column name binds to the cmdlet.</param>
        /// <param name="bindable">The names that do bind, for the message.</param>
        protected void WarnUnboundColumns(PSObject? row, Func<string, bool> binds, string bindable)
        {
            if (_warnedUnbound || row is null || !ItemReader.IsRow(row))
            {
                return;
            }

            var unbound = ItemReader.Unbound(row, binds).ToList();
            if (unbound.Count > 0)
            {
                _warnedUnbound = true;
                WriteWarning($"Ignoring input columns that no parameter takes: {string.Join(", ", unbound)}. Columns used: {bindable}.");
            }
        }

        /// <summary>Ends the input and writes everything until the batch is done; under -WhatIf, says what it would cost.</summary>
        protected void FinishBatch()
        {
            if (WhatIfOnly)
            {
                ShouldProcess(_estimate.ToString(), MyInvocation.MyCommand.Name);
                return;
            }

            if (_run is null)
            {
                return;
            }

            _run.CompleteInput();
            while (!_run.Events.Completion.IsCompleted)
            {
                // The engine always ends its event stream (also after a stop), so this wait always ends.
                _run.WhenReadyAsync(wantRoom: false).Wait();
                Drain();
            }

            Drain();

            // The event stream ends a moment before the engine's own task does; wait for that task, or a
            // batch-fatal error raised in that moment would be missed.
            try
            {
                _run.Completion.Wait();
            }
            catch (AggregateException)
            {
                // Reported just below.
            }

            var summary = _run.Snapshot();
            if (_progressShown)
            {
                WriteProgress(new ProgressRecord(ActivityId, Activity, "Done") { RecordType = ProgressRecordType.Completed });
            }

            if (_run.StoppedByRequest)
            {
                WriteWarning("Stopped: Stop-AbstraktBatch asked every runner of the batch to stop; this runner cancelled its jobs.");
            }

            WriteVerbose($"Batch summary: {summary.Done} done, {summary.Failed} failed ({summary.OutcomeUnknown} with an unknown outcome), {summary.Retries} retries, {summary.CreditsUsed} credits, {summary.Elapsed.TotalSeconds:0.0} s.");
            if (_run.Completion.IsFaulted && _run.Completion.Exception?.InnerException is BatchFatalException fatal)
            {
                ThrowTerminatingError(ApiErrors.FatalRecord(fatal, DefaultModel));
            }
        }

        /// <summary>Cancels the batch (Ctrl+C), and says in one line what that cancelled and how to resume.</summary>
        /// <remarks>The pipeline is stopping, so Write* would throw: the note goes to the host directly.</remarks>
        protected override void StopProcessing()
        {
            _stop.Cancel();
            if (_run is not null && Host?.UI is { } ui)
            {
                var s = _run.Snapshot();
                var awaiting = s.CreatesAwaitingResult == 0 ? string.Empty
                    : $"{s.CreatesAwaitingResult} {(s.CreatesAwaitingResult == 1 ? "create was" : "creates were")} waiting for the result (sent so while the rate limit was the bottleneck): any not answered at once has an unknown outcome, reported by -Resume and sent again only with -ResubmitUnknown. ";
                ui.WriteWarningLine(
                    $"Stopped: {s.Done} done, {s.Failed} failed; {s.InFlight - s.CreatesAwaitingResult} in flight: their jobs, where the service had started one, are being cancelled (a cancelled job is not charged; one that finishes first is), the rest not sent. "
                    + awaiting
                    + (_run.StoreDescription is null ? "Add -JournalPath next time to make a batch resumable."
                        : _run.Shared ? $"Its items go back to the other runners of the batch ({_run.StoreDescription}), or to the next one that joins."
                        : $"Resume: the same command with -Resume ({_run.StoreDescription})."));
            }
        }

        /// <summary>Cancels and releases the engine, also when a downstream command ended the pipeline early.</summary>
        public void Dispose()
        {
            _stop.Cancel();
            _run?.Dispose();
            Release();
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Writes every event that is ready, without waiting.</summary>
        private void Drain()
        {
            var events = _run!.Events;
            while (events.TryRead(out var e))
            {
                switch (e)
                {
                    case ItemCompleted { Submitted: true } submitted:
                        WriteObject(new AbstraktJob(new JobInfo { JobId = submitted.JobId, Status = JobStatus.Processing, ModelId = submitted.Model }));
                        break;
                    case ItemCompleted completed:
                        WriteObject(new AbstraktResult(completed));
                        break;
                    case ItemFailed failed:
                        WriteError(ItemRecord(failed));
                        break;
                    case ItemNote note:
                        WriteVerbose($"[{note.Item.Index}] {note.Message}");
                        break;
                    case BatchNote note:
                        WriteVerbose(note.Message);
                        break;
                    case BatchProgress progress:
                        WriteBatchProgress(progress);
                        break;
                }
            }
        }

        private void WriteBatchProgress(BatchProgress p)
        {
            // At most one record per 200 ms: Windows PowerShell renders each one slowly. With a known total, the
            // first record waits for the first finished item, so it already has a time left.
            if ((_progressShown && _progressClock.ElapsedMilliseconds < 200) || (p.Total is not null && p.Remaining is null))
            {
                return;
            }

            _progressClock.Restart();
            _progressShown = true;
            var total = p.Total?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
            var status = $"{p.Done}/{total} done, failed {p.Failed}, in flight {p.InFlight}, {p.ItemsPerMinute:0.#}/min"
                + (p.WaitingOnRateLimit > 0 ? $", {p.WaitingOnRateLimit} waiting on rate limit" : string.Empty)
                + (p.Retries > 0 ? $", {p.Retries} retries" : string.Empty);
            var record = new ProgressRecord(ActivityId, Activity, status)
            {
                PercentComplete = p.Total is long t && t > 0 ? (int)Math.Min(100, p.Finished * 100 / t) : -1,
                SecondsRemaining = p.Remaining is TimeSpan r ? (int)r.TotalSeconds : -1,
                CurrentOperation = p.LastPrompt is null ? null : Shorten(p.LastPrompt),
            };
            WriteProgress(record);
        }

        private static string Shorten(string text) => text.Length <= 60 ? text : text.Substring(0, 60) + "…";

        private ErrorRecord ItemRecord(ItemFailed failed) => ApiErrors.ItemRecord($"Item {failed.Item.Label}", failed.Error, failed.Item.Source ?? failed.Item.Prompt, failed.Item.Model ?? DefaultModel);
    }

    /// <summary>The exception carried by an item's error record; its inner exception is the API failure.</summary>
    public sealed class AbstraktItemException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What failed.</param>
        /// <param name="inner">The API failure.</param>
        public AbstraktItemException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }
}
