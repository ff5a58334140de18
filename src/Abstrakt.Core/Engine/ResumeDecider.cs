using System;
using System.Linq;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.Json;

namespace Abstrakt.Engine
{
    /// <summary>Where a store left an item: <see cref="JournalEntry.State"/>, whose strings are the journal's file format, read as an enum.</summary>
    internal enum EntryState
    {
        /// <summary>Seen, nothing sent (or a create that was answered with an error: "unsent" sets it back).</summary>
        Accepted,

        /// <summary>A runner of a shared batch recorded a create before sending it, and no job id after.</summary>
        Sending,

        /// <summary>A create went on the wire and its answer was never recorded.</summary>
        Sent,

        /// <summary>A job was created; its id is recorded.</summary>
        Created,

        /// <summary>Finished with outputs.</summary>
        Completed,

        /// <summary>Failed, with a code and a message.</summary>
        Failed,

        /// <summary>Its job was cancelled when a batch stopped.</summary>
        Cancelled,
    }

    /// <summary>What a worker does with an item, given what the store knew of it.</summary>
    internal enum ResumeAction
    {
        /// <summary>Nothing known: record the item, then create its job.</summary>
        Fresh,

        /// <summary>Completed in an earlier run: report that result again; send nothing.</summary>
        ReplayCompleted,

        /// <summary>Failed in an earlier run and not asked to retry: report that failure again; send nothing.</summary>
        ReplayFailed,

        /// <summary>A create may have made a job that no one can name: report an unknown outcome; send nothing.</summary>
        OutcomeUnknown,

        /// <summary>A job was created: wait for it (<see cref="ResumeDecision.JobId"/>) instead of paying twice.</summary>
        ReAttach,

        /// <summary>No job is known to exist: create one, under the recorded idempotency key.</summary>
        Rerun,

        /// <summary>Its job was cancelled: create a new one, under a new idempotency key.</summary>
        Resubmit,

        /// <summary>The store has another item at this place: the input is not the one the batch ran on; stop the batch.</summary>
        InputDiffers,
    }

    /// <summary>A decision for one item: the action, and what it needs.</summary>
    /// <param name="Action">What to do.</param>
    /// <param name="Resubmissions">How many times the item was resubmitted before this attempt (part of its idempotency key).</param>
    /// <param name="JobId">The job to re-attach to (<see cref="ResumeAction.ReAttach"/>).</param>
    /// <param name="Reason">Why the outcome is unknown, or what differs from the journal.</param>
    internal readonly record struct ResumeDecision(ResumeAction Action, int Resubmissions = 0, string? JobId = null, string? Reason = null);

    /// <summary>Turns what a store knew of an item (a <see cref="JournalEntry"/>, or nothing) into what to do with it.</summary>
    internal sealed class ResumeDecider
    {
        private readonly bool _retryFailed;
        private readonly bool _resubmitUnknown;

        /// <param name="retryFailed">Run failed items again (-RetryFailed); never those of unknown outcome.</param>
        /// <param name="resubmitUnknown">Send again the creates whose outcome is unknown (-ResubmitUnknown).</param>
        public ResumeDecider(bool retryFailed, bool resubmitUnknown)
        {
            _retryFailed = retryFailed;
            _resubmitUnknown = resubmitUnknown;
        }

        /// <summary>Decides what to do with <paramref name="item"/>.</summary>
        /// <param name="item">The item as given now.</param>
        /// <param name="entry">What the store knew of it; null when nothing.</param>
        /// <returns>The decision.</returns>
        public ResumeDecision Decide(WorkItem item, JournalEntry? entry)
        {
            if (entry is null)
            {
                return new ResumeDecision(ResumeAction.Fresh);
            }

            if (Difference(item, entry) is string what)
            {
                return new ResumeDecision(ResumeAction.InputDiffers, Reason: $"The input differs from the journal at item {item.Index}: {what}.");
            }

            switch (StateOf(entry))
            {
                case EntryState.Completed:
                    return new ResumeDecision(ResumeAction.ReplayCompleted, entry.Resubmissions, entry.JobId);
                // An unknown outcome is sent again only when asked for by name: -RetryFailed is not enough.
                case EntryState.Failed when entry.ErrorCode == ErrorCodes.OutcomeUnknown ? !_resubmitUnknown : !_retryFailed:
                    return new ResumeDecision(ResumeAction.ReplayFailed, entry.Resubmissions);
                case EntryState.Sent when !_resubmitUnknown:
                    // The batch ended (a crash, say) with a create on the wire: a job may exist that no one can name.
                    return new ResumeDecision(ResumeAction.OutcomeUnknown, entry.Resubmissions, Reason: "the batch ended before the create was answered");
                case EntryState.Sending when !_resubmitUnknown:
                    // A runner of a shared batch sent (or was about to send) a create and died before it recorded the job id.
                    return new ResumeDecision(ResumeAction.OutcomeUnknown, entry.Resubmissions, Reason: "a runner that stopped had sent the create and never recorded its job id");
                case EntryState.Created when entry.JobId is not null:
                    return new ResumeDecision(ResumeAction.ReAttach, entry.Resubmissions, entry.JobId);
                case EntryState.Cancelled:
                    return new ResumeDecision(ResumeAction.Resubmit, entry.Resubmissions + 1);
                default:
                    return new ResumeDecision(ResumeAction.Rerun, entry.Resubmissions);
            }
        }

        /// <summary>Reads an entry's state; a state this version does not know counts as accepted (run it), as it always has.</summary>
        /// <param name="entry">The entry.</param>
        /// <returns>The state.</returns>
        public static EntryState StateOf(JournalEntry entry) => entry.State switch
        {
            "sending" => EntryState.Sending,
            "sent" => EntryState.Sent,
            "created" => EntryState.Created,
            "completed" => EntryState.Completed,
            "failed" => EntryState.Failed,
            "cancelled" => EntryState.Cancelled,
            _ => EntryState.Accepted,
        };

        /// <summary>What differs between the item and the entry at its place, or null. An image item is found by its content (its id), wherever the file now sits: no place to compare.</summary>
        private static string? Difference(WorkItem item, JournalEntry entry)
        {
            if (item.Image is not null && !item.IdGiven)
            {
                return null;
            }

            var sameModel = string.Equals(entry.Model, item.Model, StringComparison.OrdinalIgnoreCase);
            if (entry.Id == item.Id && entry.Prompt == item.Prompt && sameModel && SameJson(entry.InputJson, item.InputJson))
            {
                return null;
            }

            return entry.Prompt != item.Prompt ? $"prompt '{Short(entry.Prompt)}' in the journal, '{Short(item.Prompt)}' now"
                : !sameModel ? $"model '{entry.Model}' in the journal, '{item.Model}' now"
                : entry.Id != item.Id ? $"id '{entry.Id}' in the journal, '{item.Id}' now"
                : $"input {entry.InputJson} in the journal, {item.InputJson} now";
        }

        private static bool SameJson(string a, string b)
        {
            if (string.Equals(a, b, StringComparison.Ordinal))
            {
                return true; // the common case on a resume, without parsing either
            }

            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            return JsonValues.ToUtf8(JsonValues.ToPlain(x.RootElement)).SequenceEqual(JsonValues.ToUtf8(JsonValues.ToPlain(y.RootElement)));
        }

        private static string Short(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "…";
    }
}
