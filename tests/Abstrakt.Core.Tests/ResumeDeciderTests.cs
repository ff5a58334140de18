using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Core.Tests;

/// <summary>What the engine does with an item, given what the journal knew of it: no HTTP, no files.</summary>
public sealed class ResumeDeciderTests
{
    private static readonly WorkItem Item = new(3, "a red fox", input: new Dictionary<string, object?> { ["seed"] = 7 });

    private static JournalEntry Entry(string state, Action<JournalEntry>? more = null)
    {
        var entry = new JournalEntry { Id = Item.Id, Index = Item.Index, Prompt = Item.Prompt, Model = Item.Model, InputJson = """{ "seed": 7 }""", State = state, Resubmissions = 2 };
        more?.Invoke(entry);
        return entry;
    }

    private static ResumeDecision Decide(JournalEntry? entry, bool retryFailed = false, bool resubmitUnknown = false) =>
        new ResumeDecider(retryFailed, resubmitUnknown).Decide(Item, entry);

    [Fact]
    public void Decide_NothingKnown_IsFresh()
    {
        Assert.Equal(new ResumeDecision(ResumeAction.Fresh), Decide(null));
    }

    [Theory]
    [InlineData("accepted", "Accepted")]
    [InlineData("sending", "Sending")]
    [InlineData("sent", "Sent")]
    [InlineData("created", "Created")]
    [InlineData("completed", "Completed")]
    [InlineData("failed", "Failed")]
    [InlineData("cancelled", "Cancelled")]
    [InlineData("from-a-later-version", "Accepted")]
    public void StateOf_ReadsTheJournalsStrings(string state, string expected)
    {
        Assert.Equal(Enum.Parse<EntryState>(expected), ResumeDecider.StateOf(Entry(state)));
    }

    [Fact]
    public void Decide_Completed_ReplaysWithoutSending()
    {
        Assert.Equal(ResumeAction.ReplayCompleted, Decide(Entry("completed", e => e.JobId = "job_9")).Action);
    }

    [Fact]
    public void Decide_Failed_ReplaysUnlessRetryFailed()
    {
        var failed = Entry("failed", e => e.ErrorCode = ErrorCodes.InvalidInput);

        Assert.Equal(ResumeAction.ReplayFailed, Decide(failed).Action);
        Assert.Equal(new ResumeDecision(ResumeAction.Rerun, 2), Decide(failed, retryFailed: true));
    }

    [Fact]
    public void Decide_FailedAsUnknownOutcome_IsSentAgainOnlyWithResubmitUnknown()
    {
        var unknown = Entry("failed", e => e.ErrorCode = ErrorCodes.OutcomeUnknown);

        Assert.Equal(ResumeAction.ReplayFailed, Decide(unknown, retryFailed: true).Action);
        Assert.Equal(new ResumeDecision(ResumeAction.Rerun, 2), Decide(unknown, resubmitUnknown: true));
    }

    [Theory]
    [InlineData("sent", "the batch ended before the create was answered")]
    [InlineData("sending", "a runner that stopped had sent the create and never recorded its job id")]
    public void Decide_CreateWithoutRecordedJob_IsAnUnknownOutcome_UnlessResubmitUnknown(string state, string reason)
    {
        Assert.Equal(new ResumeDecision(ResumeAction.OutcomeUnknown, 2, Reason: reason), Decide(Entry(state)));
        Assert.Equal(new ResumeDecision(ResumeAction.Rerun, 2), Decide(Entry(state), resubmitUnknown: true));
    }

    [Fact]
    public void Decide_Created_ReAttachesToTheRecordedJob()
    {
        Assert.Equal(new ResumeDecision(ResumeAction.ReAttach, 2, "job_5"), Decide(Entry("created", e => e.JobId = "job_5")));
    }

    [Fact]
    public void Decide_CreatedWithoutAJobId_RunsAgainUnderTheSameKey()
    {
        Assert.Equal(new ResumeDecision(ResumeAction.Rerun, 2), Decide(Entry("created")));
    }

    [Fact]
    public void Decide_Cancelled_ResubmitsUnderANewKey()
    {
        Assert.Equal(new ResumeDecision(ResumeAction.Resubmit, 3), Decide(Entry("cancelled", e => e.JobId = "job_5")));
    }

    [Fact]
    public void Decide_AcceptedOnly_RunsAgainUnderTheSameKey()
    {
        Assert.Equal(new ResumeDecision(ResumeAction.Rerun, 2), Decide(Entry("accepted")));
    }

    [Fact]
    public void Decide_SameInputWrittenDifferently_IsTheSameItem()
    {
        Assert.Equal(ResumeAction.Rerun, Decide(Entry("accepted", e => e.InputJson = """{"seed":7}""")).Action);
    }

    [Theory]
    [InlineData("prompt", "prompt 'a grey wolf' in the journal, 'a red fox' now")]
    [InlineData("model", "model 'flux-dev' in the journal, '' now")]
    [InlineData("input", "input {\"seed\":8} in the journal, {\"seed\":7} now")]
    public void Decide_AnotherItemAtThisPlace_SaysWhatDiffers(string what, string expected)
    {
        var entry = Entry("completed", e =>
        {
            if (what == "prompt") e.Prompt = "a grey wolf";
            if (what == "model") e.Model = "flux-dev";
            if (what == "input") e.InputJson = """{"seed":8}""";
        });

        var decision = Decide(entry);

        Assert.Equal(ResumeAction.InputDiffers, decision.Action);
        Assert.Equal($"The input differs from the journal at item 3: {expected}.", decision.Reason);
    }

    [Fact]
    public void Decide_ImageItem_IsFoundByContentWhereverItsFileNowSits()
    {
        var image = new WorkItem(9, "upscale", image: ImageInput.FromUrl("https://img.example/a.png"));
        var entry = new JournalEntry { Id = image.Id, Index = 1, Prompt = "upscale", State = "completed", JobId = "job_1" };

        Assert.Equal(ResumeAction.ReplayCompleted, new ResumeDecider(false, false).Decide(image, entry).Action);
    }
}
