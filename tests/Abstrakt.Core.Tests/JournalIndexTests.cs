using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>
/// Issue 18, step 7: a journal opened for resume holds a compact index and reads items back from the file. What it
/// gives must be what reading the whole file gave (<see cref="FullRead"/>, the code it replaced), for every state,
/// every line ending, torn and corrupt line, and when ids hash alike.
/// </summary>
public sealed class JournalIndexTests : IDisposable
{
    private const string Batch = "{\"type\":\"batch\",\"version\":1,\"batch_id\":\"b1\",\"model\":\"flux-schnell\"}";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-journal-index", Guid.NewGuid().ToString("N"));

    public JournalIndexTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void Open_AnItemInEachState_GivesTheEntryTheWholeFileGave()
    {
        var path = Path.Combine(_dir, "states.jsonl");
        var items = Enumerable.Range(1, 9).Select(i => new WorkItem(i, "state " + i, i == 9 ? "flux-dev" : null, new Dictionary<string, object?> { ["seed"] = i })).ToArray();
        using (var journal = Journal.Open(path, resume: false, "flux-schnell"))
        {
            foreach (var item in items)
            {
                journal.Accepted(item);
            }

            journal.Sent(items[1].Id, 0);                                   // 2: sent
            journal.Sent(items[2].Id, 0);                                   // 3: sent, then unsent: accepted again
            journal.Unsent(items[2].Id);
            journal.Sent(items[3].Id, 2);                                   // 4: created, after two resubmissions
            journal.Created(items[3].Id, "job-4", 2);
            journal.Created(items[4].Id, "job-5", 0);                       // 5: completed
            journal.Completed(new ItemCompleted { Item = items[4], JobId = "job-5", Urls = new[] { "https://x/5.png", "https://x/5b.png" }, Files = new[] { "/out/5.png" }, CreditsUsed = 3 });
            journal.Failed(items[5].Id, ErrorCodes.InferenceFailed, "the model said no");   // 6: failed
            journal.Created(items[6].Id, "job-7", 1);                       // 7: cancelled: resubmitted on resume
            journal.Cancelled(items[6].Id, "job-7");
            journal.Failed(items[7].Id, ErrorCodes.OutcomeUnknown, "lost"); // 8: failed, then retried and completed
            journal.Sent(items[7].Id, 1);
            journal.Created(items[7].Id, "job-8", 1);
            journal.Completed(new ItemCompleted { Item = items[7], JobId = "job-8", Urls = new[] { "https://x/8.png" }, CreditsUsed = 1 });
        }

        var expected = FullRead.Entries(path);
        using var index = JournalIndex.Read(path);

        Assert.Equal(9, index.Count);
        Assert.Equal(new[] { "accepted", "sent", "accepted", "created", "completed", "failed", "cancelled", "completed", "accepted" }, items.Select(i => index.ByIndex(i.Index)!.State));
        foreach (var item in items)
        {
            AssertSame(expected[item.Id], index.ByIndex(item.Index));
            AssertSame(expected[item.Id], index.ById(item.Id));
        }

        var created = index.ByIndex(4)!;
        Assert.Equal(("job-4", 2), (created.JobId, created.Resubmissions));
        var completed = index.ByIndex(5)!;
        Assert.Equal(("job-5", 3, 2, 1), (completed.JobId, completed.Credits, completed.Urls.Count, completed.Files.Count));
        Assert.Equal("the model said no", index.ByIndex(6)!.ErrorMessage);
        Assert.Equal(("job-7", 1), (index.ByIndex(7)!.JobId, index.ByIndex(7)!.Resubmissions));
        Assert.Equal("flux-dev", index.ByIndex(9)!.Model);
        Assert.Equal("{\"seed\":9}", index.ByIndex(9)!.InputJson);
        Assert.Null(index.ByIndex(10));
        Assert.Null(index.ById("10-nothing"));
    }

    [Fact]
    public async Task Resume_AnItemInEachState_DecidesAsItAlwaysDid()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ChaosTests.ClientFor(sandbox);
        var path = Path.Combine(_dir, "decisions.jsonl");
        var items = Enumerable.Range(1, 8).Select(i => new WorkItem(i, "decide " + i)).ToList();
        var running = await client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "decide 4" }, Sync = false });
        string batchId;
        using (var journal = Journal.Open(path, resume: false, new BatchOptions().DefaultModel))
        {
            batchId = journal.BatchId;
            foreach (var item in items)
            {
                journal.Accepted(item);
            }

            journal.Sent(items[1].Id, 0);                                        // 2: a create on the wire: outcome unknown
            journal.Sent(items[2].Id, 0);                                        // 3: sent, then unsent: run
            journal.Unsent(items[2].Id);
            journal.Created(items[3].Id, running.JobId, 0);                      // 4: created: re-attached, never created again
            journal.Completed(new ItemCompleted { Item = items[4], JobId = "job-from-before", Urls = new[] { "https://x/5.png" }, CreditsUsed = 2 });
            journal.Failed(items[5].Id, ErrorCodes.InferenceFailed, "no");       // 6: failed: reported again
            journal.Created(items[6].Id, "job-cancelled", 0);                    // 7: cancelled: run with the next key
            journal.Cancelled(items[6].Id, "job-cancelled");
            journal.Failed(items[7].Id, ErrorCodes.OutcomeUnknown, "lost");      // 8: unknown outcome: reported again
        }

        var created = sandbox.Stats.JobsCreated;
        var (events, fatal) = await ChaosTests.RunToEnd(client, new BatchOptions { ThrottleLimit = 4, JournalPath = path, Resume = true }, items);

        Assert.Null(fatal);
        var done = events.OfType<ItemCompleted>().ToDictionary(c => c.Item.Index);
        var failed = events.OfType<ItemFailed>().ToDictionary(f => f.Item.Index);
        Assert.Equal(new long[] { 1, 3, 4, 5, 7 }, done.Keys.Order());
        Assert.Equal(new long[] { 2, 6, 8 }, failed.Keys.Order());
        Assert.Equal(ErrorCodes.OutcomeUnknown, failed[2].Error.Code);
        Assert.Equal((ErrorCodes.InferenceFailed, "(from the journal) no"), (failed[6].Error.Code, failed[6].Error.Message));
        Assert.Equal(ErrorCodes.OutcomeUnknown, failed[8].Error.Code);
        Assert.Equal(running.JobId, done[4].JobId);
        Assert.True(done[5].FromJournal);
        Assert.Equal(("job-from-before", 2, "https://x/5.png"), (done[5].JobId, done[5].CreditsUsed, done[5].Urls.Single()));
        // Items 1, 3 and 7 were created now; item 7 under its first resubmission's key.
        Assert.Equal(created + 3, sandbox.Stats.JobsCreated);
        var keys = sandbox.Stats.JobsByIdempotencyKey.Keys.Where(k => k.StartsWith(batchId + ":", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, keys.Count);
        Assert.Single(keys, k => k.Contains(items[6].Id, StringComparison.Ordinal) && k.EndsWith(":1", StringComparison.Ordinal));
    }

    [Fact]
    public void ImageItems_AreFoundByTheirContentId_AndTheItemLastAcceptedAtAnIndexByIndex()
    {
        // A second run found the files in another order: content ids keep their entries, an index names the newest.
        var path = Path.Combine(_dir, "images.jsonl");
        var lines = new List<string>
        {
            Batch,
            Accepted("image-aaaaaaaaaaaaaaaa", 1),
            Accepted("image-bbbbbbbbbbbbbbbb", 2),
            Completed("image-aaaaaaaaaaaaaaaa", "job-a"),
            Accepted("image-cccccccccccccccc", 1),
            Completed("image-cccccccccccccccc", "job-c"),
        };
        File.WriteAllText(path, string.Join("\n", lines) + "\n");

        using var index = JournalIndex.Read(path);

        Assert.Equal("job-a", index.ById("image-aaaaaaaaaaaaaaaa")!.JobId);
        Assert.Equal("accepted", index.ById("image-bbbbbbbbbbbbbbbb")!.State);
        Assert.Equal("image-cccccccccccccccc", index.ByIndex(1)!.Id);
        Assert.Equal("image-bbbbbbbbbbbbbbbb", index.ByIndex(2)!.Id);
        Assert.Null(index.ById("image-dddddddddddddddd"));
    }

    [Theory]
    [InlineData("item-{0}")]   // kept in the hash table
    [InlineData("{0}-x")]      // a prompt item's shape: kept at the position its id starts with
    public void Collision_EveryIdHashingAlike_EachItemStillGetsItsOwnRecords(string idFormat)
    {
        var path = Path.Combine(_dir, "collide.jsonl");
        var lines = new List<string> { Batch };
        for (var i = 1; i <= 50; i++)
        {
            lines.Add(Accepted(Id(i), i));
        }

        for (var i = 1; i <= 50; i++)
        {
            lines.Add(i % 2 == 0 ? Completed(Id(i), $"job-{i}") : Created(Id(i), $"job-{i}", i % 5));
        }

        File.WriteAllText(path, string.Join("\n", lines) + "\n");

        using var index = JournalIndex.Read(path, _ => 42UL);

        Assert.Equal(50, index.Count);
        for (var i = 1; i <= 50; i++)
        {
            var entry = index.ById(Id(i))!;
            Assert.Equal((Id(i), (long)i, $"job-{i}", i % 2 == 0 ? "completed" : "created"), (entry.Id, entry.Index, entry.JobId, entry.State));
            Assert.Equal(i % 2 == 0 ? 0 : i % 5, entry.Resubmissions);
            Assert.Equal(Id(i), index.ByIndex(i)!.Id);
        }

        // Its hash matches every item's: only the id read back from the file tells it is none of them.
        Assert.Null(index.ById(Id(51)));
        Assert.Null(index.ById(Id(7) + "y"));

        string Id(int i) => string.Format(System.Globalization.CultureInfo.InvariantCulture, idFormat, i);
    }

    [Fact]
    public void PromptItemIds_TwoAtOnePositionOrOneMoved_AreEachFoundByIdAndTheLastByIndex()
    {
        // A prompt item is kept at the position its id starts with; another item taking that place, or the item
        // accepted at another index, sends it to the hash table.
        var path = Path.Combine(_dir, "positions.jsonl");
        File.WriteAllText(path, string.Join("\n",
            Batch,
            Accepted("1-aaaa", 1), Accepted("1-bbbb", 1), Accepted("2-cccc", 2), Accepted("3-dddd", 3), Accepted("2-cccc", 4),
            Accepted("4-eeee", 9), Completed("1-aaaa", "job-a"), Completed("1-bbbb", "job-b"), Completed("2-cccc", "job-c"),
            "{\"type\":\"failed\",\"id\":\"5-orphan\",\"code\":\"X\",\"message\":\"m\"}", Accepted("5-orphan", 5)) + "\n");

        AssertReadAlike(path);
        using var index = JournalIndex.Read(path);
        Assert.Equal(("job-a", "job-b", "job-c"), (index.ById("1-aaaa")!.JobId, index.ById("1-bbbb")!.JobId, index.ById("2-cccc")!.JobId));
        Assert.Equal(("1-bbbb", "3-dddd", "2-cccc", "4-eeee", "5-orphan"), (index.ByIndex(1)!.Id, index.ByIndex(3)!.Id, index.ByIndex(4)!.Id, index.ByIndex(9)!.Id, index.ByIndex(5)!.Id));
        Assert.Null(index.ByIndex(2));
        Assert.Equal("failed", index.ById("5-orphan")!.State);
    }

    [Fact]
    public void Collision_PairsThatHashAlikeFarApartInTheFile_AreToldApartByReadingTheFile()
    {
        // Every record of an item comes after more than the 4,096 ids the pass keeps at hand, and each id shares
        // its hash with one other: every match is checked against the id in the file.
        const int count = 6000;
        var path = Path.Combine(_dir, "pairs.jsonl");
        var lines = new List<string> { Batch };
        lines.AddRange(Enumerable.Range(1, count).Select(i => Accepted(PairId(i), i)));
        lines.AddRange(Enumerable.Range(1, count).Select(i => Created(PairId(i), "job-" + i, 0)));
        lines.AddRange(Enumerable.Range(1, count).Where(i => i % 3 == 0).Select(i => Completed(PairId(i), "job-" + i)));
        File.WriteAllText(path, string.Join("\n", lines) + "\n");

        using var index = JournalIndex.Read(path, id => JournalIndex.Fnv1a64(id[..id.IndexOf((byte)'.')]));

        Assert.Equal(count, index.Count);
        for (var i = 1; i <= count; i++)
        {
            var entry = index.ByIndex(i)!;
            Assert.Equal((PairId(i), "job-" + i, i % 3 == 0 ? "completed" : "created"), (entry.Id, entry.JobId, entry.State));
            Assert.Equal(i, index.ById(PairId(i))!.Index);
        }

        static string PairId(int i) => $"pair-{i / 2}.{i % 2}";
    }

    [Fact]
    public void Reaccepted_AnItemAtANewIndex_MovesThere_AndItsOldIndexFindsTheItemBeforeIt()
    {
        var path = Path.Combine(_dir, "moved.jsonl");
        File.WriteAllText(path, string.Join("\n", Batch, Accepted("first", 1), Accepted("second", 1), Accepted("third", 2), Accepted("second", 3), Completed("second", "job")) + "\n");

        using var index = JournalIndex.Read(path);

        var expected = FullRead.Entries(path).Values.GroupBy(e => e.Index).ToDictionary(g => g.Key, g => g.Last().Id);
        Assert.Equal(expected, Enumerable.Range(1, 3).ToDictionary(i => (long)i, i => index.ByIndex(i)!.Id));
        Assert.Equal(("second", 3L, "completed"), (index.ById("second")!.Id, index.ById("second")!.Index, index.ById("second")!.State));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public void LineEndings_AndTornOrCorruptLines_AreReadAsTheWholeFileWas(string newline)
    {
        var cases = new[]
        {
            new[] { Batch, Accepted("a", 1), "{\"type\":\"completed\",\"id\":\"a", Accepted("b", 2) },            // torn mid-file: tolerated
            new[] { Batch, Accepted("a", 1), "{\"type\":\"completed\",\"id\":\"a\"", string.Empty, " " },      // torn at the end
            new[] { Batch, Accepted("a", 1), "{\"type\":\"completed\",\"id\":\"a\" x}", "", "  " },           // ends in } but nothing follows
            new[] { Batch, Accepted("a", 1), "{\"type\":\"completed\",\"id\":\"a\" x}", "", Accepted("b", 2) }, // ends in } and a record follows: corrupt
            new[] { Batch, Accepted("a", 1), "{\"type\":\"completed\",\"id\":\"a\",\"credits\":\"x\"}" },       // wrong shape: corrupt, with why
            new[] { "this is not a journal", "{\"type\":" },                                                   // no batch record
            new[] { "{\"type\":\"batch\",\"batch_id\":\"\",\"model\":\"flux-schnell\"}", Accepted("a", 1) },           // an empty batch id is still one
            new[] { "{\"type\":\"batch\",\"batch_id\":\"\",\"model\":\"flux-schnell\"}", Batch },
            new[] { Batch, Accepted("a", 1), Batch },
            new[] { Batch, "{\"type\":\"accepted\",\"index\":1}" },
            new[] { Batch, "{\"type\":\"mystery\",\"id\":\"x\"}" },
            new[] { Batch, "{\"type\":\"accepted\",\"id\":\"x\",\"index\":1.5}" },
            new[] { Batch, "{\"type\":\"accepted\",\"id\":\"x\",\"prompt\":\"\\ud800\"}" },                   // a lone surrogate cannot be a string
            new[] { Batch, "[1,2]" },
            new[] { Batch, "{\"type\":\"sent\",\"id\":\"x\",\"resubmissions\":1,\"resubmissions\":\"many\"}" },
            new[] { Batch, "{\"type\":\"sent\",\"id\":\"x\",\"resubmissions\":\"many\",\"resubmissions\":2}" }, // the last of a repeated field counts
            new[] { Batch, "{\"type\":\"created\",\"id\":\"x\",\"resubmissions\":3000000000}" },               // too large for the int it is read as
            new[] { Batch, "{\"type\":\"completed\",\"id\":\"x\",\"credits\":1e2}" },
            new[] { Batch, Accepted("x", 1), "{\"type\":\"sent\",\"id\":\"x\",\"credits\":3000000000,\"index\":-0}" },  // fields a record's type does not read
        };

        foreach (var lines in cases)
        {
            var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".jsonl");
            File.WriteAllText(path, string.Join(newline, lines) + newline);
            AssertReadAlike(path);
        }
    }

    [Fact]
    public void UnusualLines_ByteOrderMarkLongLinesEscapesAndRawUnicode_AreReadAsTheWholeFileWas()
    {
        var longPrompt = new string('p', 3 * 1024 * 1024);
        var lines = new[]
        {
            Batch,
            Accepted("long", 1, longPrompt),
            Accepted("caf\\u00e9", 2),                                                        // an escaped id
            "{\"type\":\"accepted\",\"id\":\"raw-café\",\"index\":3,\"prompt\":\"ünïcode\"}", // raw UTF-8, as an editor saves it
            "{\"type\":\"accepted\",\"id\":\"bad-\xFF\",\"index\":4}",                        // not UTF-8: read as it was decoded
            Completed("caf\\u00e9", "job-2"),
            Completed("raw-café", "job-3"),
            "{\"index\":5,\"id\":\"late-type\",\"type\":\"accepted\"}",                       // fields in another order
            "{\"type\":\"accepted\",\"i\\u0064\":\"escaped-name\",\"index\":6}",              // an escaped field name
            "\u00a0",                                                                           // a blank line that is not ASCII
            "{\"type\":\"accepted\",\"id\":\"odd-input\",\"index\":7,\"input\":\"text\",\"prompt\":5,\"model\":\"a\\\"b\"}", // an input that is not an object, a prompt that is not a string
            "{\"type\":\"accepted\",\"id\":\"spaced\" , \"index\" : 8 ,\"input\" : { \"seed\" : [ 1 , 2 ] } }",                 // white space as an editor leaves it
            "{\"type\":\"completed\",\"id\":\"spaced\",\"urls\":[null,\"u\\/1\"],\"files\":\"none\",\"credits\":2,\"job_id\":null}",
            Created("long", "job-1", 0),
        };
        var path = Path.Combine(_dir, "unusual.jsonl");
        var bytes = new List<byte> { 0xEF, 0xBB, 0xBF };
        foreach (var line in lines)
        {
            // \xFF stands for a byte that is not UTF-8.
            bytes.AddRange(line.Contains('\xFF', StringComparison.Ordinal) ? Encoding.Latin1.GetBytes(line) : Encoding.UTF8.GetBytes(line));
            bytes.Add((byte)'\n');
        }

        File.WriteAllBytes(path, bytes.ToArray());

        AssertReadAlike(path);
        using var index = JournalIndex.Read(path);
        Assert.Equal(longPrompt, index.ByIndex(1)!.Prompt);
        Assert.Equal("job-1", index.ById("long")!.JobId);
        Assert.Equal("job-2", index.ById("café")!.JobId);
        Assert.Equal("ünïcode", index.ById("raw-café")!.Prompt);
        Assert.Equal("escaped-name", index.ByIndex(6)!.Id);
        Assert.Equal(("\"text\"", string.Empty, "a\"b"), (index.ByIndex(7)!.InputJson, index.ByIndex(7)!.Prompt, index.ByIndex(7)!.Model));
        Assert.Equal("{ \"seed\" : [ 1 , 2 ] }", index.ByIndex(8)!.InputJson);
        Assert.Equal(new[] { string.Empty, "u/1" }, index.ByIndex(8)!.Urls);
    }

    [Fact]
    public void ALineEndingAcrossTheReadBuffersEdge_CountsOnce()
    {
        // The pass reads 1 MiB at a time: put the \r of a \r\n on each side of that edge, and a corrupt line after it,
        // so a line counted twice would show in the error's line number.
        const int edge = 1 << 20;
        foreach (var shift in new[] { -2, -1, 0, 1 })
        {
            var prefix = Batch + "\r\n" + Accepted("x", 1, string.Empty);
            var prompt = new string('p', edge + shift - Encoding.UTF8.GetByteCount(prefix));
            var path = Path.Combine(_dir, $"edge{shift}.jsonl");
            File.WriteAllText(path, string.Join("\r\n", Batch, Accepted("x", 1, prompt), Completed("x", "job-x"), "{\"type\":\"mystery\",\"id\":\"y\"}") + "\r\n");

            AssertReadAlike(path);
            File.WriteAllText(path, string.Join("\r\n", Batch, Accepted("x", 1, prompt), Completed("x", "job-x")) + "\r\n");
            AssertReadAlike(path);
            using var index = JournalIndex.Read(path);
            Assert.Equal(("job-x", prompt.Length), (index.ByIndex(1)!.JobId, index.ByIndex(1)!.Prompt.Length));
        }
    }

    [Fact]
    public void RandomJournals_AreReadAsTheWholeFileWas()
    {
        var random = new Random(18);
        for (var round = 0; round < 60; round++)
        {
            var path = Path.Combine(_dir, $"random-{round}.jsonl");
            File.WriteAllText(path, RandomJournal(random));
            AssertReadAlike(path);
        }
    }

    [Fact]
    public void MutatedLines_EveryPrefixAndRandomEdits_AreReadAsTheWholeFileReadThem()
    {
        // The forward-only reader must accept only what a document parses and the original path reads without an
        // error, and read it the same: torn prefixes of every record, and random edits around JSON's special bytes.
        var records = new[]
        {
            Accepted("12-0a1b2c3d", 12, "a \\\"quoted\\\" prompt \\u00e9 \\ud83d\\ude00"),
            "{\"type\":\"accepted\",\"id\":\"x\",\"index\":-7,\"prompt\":\"p\",\"model\":\"flux-dev\",\"input\":{\"seed\":-1.5e-3,\"list\":[true,false,null,{\"a\":[]}],\"s\":\"\\/\\b\\f\\n\\r\\t\\u0000\"}}",
            "{\"type\":\"sent\",\"id\":\"x\",\"resubmissions\":2147483647}",
            "{\"type\":\"created\",\"id\":\"x\",\"job_id\":\"job-1\",\"resubmissions\":0}",
            "{\"type\":\"completed\",\"id\":\"x\",\"job_id\":\"j\",\"urls\":[\"http://a/1.png\",null],\"files\":[],\"credits\":-3}",
            "{\"type\":\"failed\",\"id\":\"x\",\"code\":\"INFERENCE_FAILED\",\"message\":\"it said \\\"no\\\"\"}",
            "{\"type\":\"cancelled\",\"id\":\"x\",\"job_id\":\"j\"}",
            "{\"type\":\"unsent\",\"id\":\"x\"}",
            " { \"id\" : \"x\" , \"type\" : \"sent\" , \"resubmissions\" : 0 } ",
        };
        var random = new Random(7);
        const string special = "\"\\{}[],:-+.eE0129aunlt \t/";
        var lines = new List<string>();
        foreach (var record in records)
        {
            lines.AddRange(Enumerable.Range(0, record.Length + 1).Select(n => record[..n]));
            for (var i = 0; i < 150; i++)
            {
                var at = random.Next(record.Length);
                var c = special[random.Next(special.Length)];
                lines.Add(random.Next(3) switch
                {
                    0 => record[..at] + c + record[(at + 1)..],
                    1 => record.Remove(at, 1),
                    _ => record.Insert(at, c.ToString()),
                });
            }
        }

        var fast = 0;
        foreach (var (line, i) in lines.Select((l, i) => (l, i)))
        {
            if (JournalIndex.ReadsFast(Encoding.UTF8.GetBytes(line)))
            {
                fast++;
                using var doc = JsonDocument.Parse(line);
            }

            var path = Path.Combine(_dir, $"mutated-{i}.jsonl");
            File.WriteAllText(path, Batch + "\n" + (line.Contains("\"id\"", StringComparison.Ordinal) ? Accepted("x", 1) + "\n" : string.Empty) + line + "\n" + Created("x", "job-after", 1) + "\n");
            AssertReadAlike(path);
            File.Delete(path);
        }

        Assert.InRange(fast, records.Length, lines.Count - 1);
    }

    [Fact]
    public void Indexes_FarApartOrNegative_AreFoundAsTheWholeFileFoundThem()
    {
        var path = Path.Combine(_dir, "sparse.jsonl");
        File.WriteAllText(path, string.Join("\n", Batch, Accepted("a", 1), Accepted("b", 5_000_000_000_000), Accepted("c", -3), Accepted("d", 2), Completed("b", "job-b")) + "\n");

        AssertReadAlike(path);
        using var index = JournalIndex.Read(path);
        Assert.Equal(new[] { "a", "d", "b", "c" }, new long[] { 1, 2, 5_000_000_000_000, -3 }.Select(i => index.ByIndex(i)!.Id));
        Assert.Equal("completed", index.ByIndex(5_000_000_000_000)!.State);
    }

    [Fact]
    public void Slot_KeepsOffsetsUpToATerabyte_AndItsOtherFieldsApart()
    {
        var slot = new JournalIndex.Slot { AcceptedAt = -1, StateAt = -1 };
        Assert.Equal((-1L, -1L), (slot.AcceptedAt, slot.StateAt));

        slot.Check = 0xDEADBEEF;
        slot.State = 5;
        slot.Resubmissions = 254;
        slot.AcceptedAt = (1L << 39) + 12345;
        slot.StateAt = (1L << 40) - 2;

        Assert.Equal(((1L << 39) + 12345, (1L << 40) - 2, 0xDEADBEEFu, (byte)5, (byte)254), (slot.AcceptedAt, slot.StateAt, slot.Check, slot.State, slot.Resubmissions));
        slot.StateAt = 7;
        slot.AcceptedAt = 0;
        Assert.Equal((0L, 7L, 0xDEADBEEFu, (byte)5, (byte)254), (slot.AcceptedAt, slot.StateAt, slot.Check, slot.State, slot.Resubmissions));
        Assert.Throws<JournalException>(() => slot.StateAt = (1L << 40) - 1);
    }

    [Fact]
    public void Entries_IsAViewOfTheFile_ByIdAndInOrder()
    {
        var path = Path.Combine(_dir, "view.jsonl");
        File.WriteAllText(path, string.Join("\n", Batch, Accepted("a", 1), Accepted("b", 2), Completed("a", "job-a")) + "\n");

        using var journal = Journal.Open(path, resume: true, "flux-schnell");

        Assert.Equal(2, journal.Entries.Count);
        Assert.Equal(new[] { "a", "b" }, journal.Entries.Keys);
        Assert.Equal("completed", journal.Entries["a"].State);
        Assert.True(journal.Entries.TryGetValue("b", out var b) && b.Index == 2);
        Assert.False(journal.Entries.ContainsKey("c"));
    }

    private static string Record(params (string Name, object? Value)[] fields) =>
        JsonSerializer.Serialize(fields.ToDictionary(f => f.Name, f => f.Value), new JsonSerializerOptions { Encoder = JavaScriptEncoder.Default });

    // Ids and prompts go in as JSON text, so a test can write an escape.
    private static string Accepted(string id, long index, string? prompt = null) =>
        $"{{\"type\":\"accepted\",\"id\":\"{id}\",\"index\":{index},\"prompt\":\"{prompt ?? "prompt " + index}\",\"model\":null,\"input\":{{}}}}";

    private static string Created(string id, string job, int resubmissions) => $"{{\"type\":\"created\",\"id\":\"{id}\",\"job_id\":\"{job}\",\"resubmissions\":{resubmissions}}}";

    private static string Completed(string id, string job) => $"{{\"type\":\"completed\",\"id\":\"{id}\",\"job_id\":\"{job}\",\"urls\":[\"https://x/{job}.png\"],\"files\":[],\"credits\":1}}";

    /// <summary>A journal as runs, crashes and hand edits leave them: interleaved items, every record type, odd lines.</summary>
    private static string RandomJournal(Random random)
    {
        var ids = Enumerable.Range(1, random.Next(1, 40)).Select(i => random.Next(4) switch
        {
            0 => $"image-{random.NextInt64():x16}",
            1 => $"given \"{i}\" café",
            _ => $"{i}-{random.Next():x8}",
        }).Distinct().ToList();
        var lines = new List<string> { Record(("type", "batch"), ("version", 1), ("batch_id", "b" + random.Next(100)), ("model", "flux-schnell")) };
        var next = 1L;
        foreach (var _ in Enumerable.Range(0, random.Next(1, 160)))
        {
            var id = ids[random.Next(ids.Count)];
            lines.Add(random.Next(12) switch
            {
                0 or 1 or 2 => Record(("type", "accepted"), ("id", id), ("index", random.Next(5) == 0 ? random.Next(1, 4) : next++), ("prompt", "p " + id), ("model", random.Next(3) == 0 ? "flux-dev" : null), ("input", new Dictionary<string, object> { ["seed"] = random.Next(9) })),
                3 => Record(("type", "sent"), ("id", id), ("resubmissions", random.Next(3) == 0 ? 300 : random.Next(3))),
                4 => Record(("type", "unsent"), ("id", id)),
                5 => Record(("type", "created"), ("id", id), ("job_id", "job-" + random.Next(1000)), ("resubmissions", random.Next(3))),
                6 => Record(("type", "completed"), ("id", id), ("job_id", "job-" + random.Next(1000)), ("urls", new[] { "https://x/" + random.Next(9) }), ("files", Array.Empty<string>()), ("credits", random.Next(4))),
                7 => Record(("type", "failed"), ("id", id), ("code", "INFERENCE_FAILED"), ("message", "m " + random.Next(9))),
                8 => Record(("type", "cancelled"), ("id", id), ("job_id", "job-" + random.Next(1000))),
                9 => random.Next(2) == 0 ? string.Empty : "   ",
                10 => Record(("type", "sent"), ("id", id)).TrimEnd('}'),   // torn
                _ => random.Next(20) == 0 ? Record(("type", "created"), ("id", id), ("resubmissions", "x")) : Record(("id", id), ("type", "unsent"), ("note", new[] { 1, 2 })),
            });
        }

        var newline = new[] { "\n", "\r\n", "\r" }[random.Next(3)];
        return string.Join(newline, lines) + (random.Next(3) == 0 ? string.Empty : newline);
    }

    /// <summary>The index and the whole-file read agree: the same error, or the same entries by id and by index.</summary>
    private static void AssertReadAlike(string path)
    {
        Dictionary<string, JournalEntry> expected;
        try
        {
            expected = FullRead.Entries(path);
        }
        catch (JournalException full)
        {
            var ex = Assert.Throws<JournalException>(() => JournalIndex.Read(path).Dispose());
            Assert.Equal((full.ErrorId, full.Message), (ex.ErrorId, ex.Message));
            return;
        }

        using var index = JournalIndex.Read(path);
        Assert.Equal(expected.Count, index.Count);
        Assert.Equal(expected.Keys, index.All().Select(e => e.Id));
        foreach (var (id, entry) in expected)
        {
            AssertSame(entry, index.ById(id));
        }

        foreach (var group in expected.Values.GroupBy(e => e.Index))
        {
            AssertSame(group.Last(), index.ByIndex(group.Key));
        }
    }

    /// <summary>
    /// The same entry in every field a resume reads for its state. (A cancelled entry's job id now comes from its
    /// cancelled record, which names the job its created record did; the whole-file read kept the created one's.)
    /// </summary>
    private static void AssertSame(JournalEntry expected, JournalEntry? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal((expected.Id, expected.Index, expected.Prompt, expected.Model, expected.InputJson, expected.State, expected.Resubmissions),
            (actual.Id, actual.Index, actual.Prompt, actual.Model, actual.InputJson, actual.State, actual.Resubmissions));
        switch (expected.State)
        {
            case "completed":
                Assert.Equal((expected.JobId, expected.Credits), (actual.JobId, actual.Credits));
                Assert.Equal(expected.Urls, actual.Urls);
                Assert.Equal(expected.Files, actual.Files);
                break;
            case "created":
                Assert.Equal(expected.JobId, actual.JobId);
                break;
            case "failed":
                Assert.Equal((expected.ErrorCode, expected.ErrorMessage), (actual.ErrorCode, actual.ErrorMessage));
                break;
        }
    }

    /// <summary>How Journal.Open read a journal before issue 18, kept word for word: every line into memory, every entry whole.</summary>
    private static class FullRead
    {
        public static Dictionary<string, JournalEntry> Entries(string path)
        {
            var entries = new Dictionary<string, JournalEntry>(StringComparer.Ordinal);
            string? batchId = null, model = null;
            var lineNumber = 0;
            var lines = File.ReadAllLines(path);
            foreach (var line in lines)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(line);
                }
                catch (JsonException)
                {
                    if (lineNumber == lines.Length || lines.Skip(lineNumber).All(string.IsNullOrWhiteSpace) || IsTornBeforeBlank(lines, lineNumber))
                    {
                        continue;
                    }

                    throw new JournalException($"The journal '{path}' is corrupt at line {lineNumber}.", "JournalCorrupt");
                }

                using (doc)
                {
                    try
                    {
                        Apply(doc.RootElement, entries, ref batchId, ref model);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or FormatException)
                    {
                        throw new JournalException($"The journal '{path}' is corrupt at line {lineNumber}: {ex.Message}", "JournalCorrupt");
                    }
                }
            }

            if (batchId is null)
            {
                throw new JournalException($"'{path}' is not an Abstrakt batch journal (no batch record).", "JournalCorrupt");
            }

            return entries;
        }

        private static bool IsTornBeforeBlank(string[] lines, int lineNumber) =>
            lineNumber < lines.Length && lines[lineNumber - 1].Length > 0 && !lines[lineNumber - 1].TrimEnd().EndsWith("}", StringComparison.Ordinal);

            private static void Apply(JsonElement r, Dictionary<string, JournalEntry> entries, ref string? batchId, ref string? model)
            {
                if (r.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException($"a record is a JSON {r.ValueKind.ToString().ToLowerInvariant()}, not an object.");
                }

                var type = Str(r, "type");
                if (type == "batch")
                {
                    if (batchId is not null)
                    {
                        throw new FormatException("a second batch record; a journal holds one batch.");
                    }

                    batchId = Str(r, "batch_id") ?? throw new FormatException("the batch record has no batch_id.");
                    model = Str(r, "model");
                    return;
                }

                var id = Str(r, "id") ?? throw new FormatException($"a '{type}' record has no id.");
                if (!entries.TryGetValue(id, out var entry))
                {
                    entry = new JournalEntry { Id = id };
                    entries[id] = entry;
                }

                switch (type)
                {
                    case "accepted":
                        entry.Index = r.TryGetProperty("index", out var index) ? index.GetInt64() : 0;
                        entry.Prompt = Str(r, "prompt") ?? string.Empty;
                        entry.Model = Str(r, "model");
                        entry.InputJson = r.TryGetProperty("input", out var input) ? input.GetRawText() : "{}";
                        break;
                    case "sent":
                        entry.State = "sent";
                        entry.Resubmissions = r.TryGetProperty("resubmissions", out var sent) ? sent.GetInt32() : 0;
                        break;
                    case "unsent":
                        entry.State = "accepted";
                        break;
                    case "created":
                        entry.State = "created";
                        entry.JobId = Str(r, "job_id");
                        entry.Resubmissions = r.TryGetProperty("resubmissions", out var n) ? n.GetInt32() : 0;
                        break;
                    case "completed":
                        entry.State = "completed";
                        entry.JobId = Str(r, "job_id");
                        entry.Urls = Strings(r, "urls");
                        entry.Files = Strings(r, "files");
                        entry.Credits = r.TryGetProperty("credits", out var c) ? c.GetInt32() : 0;
                        break;
                    case "failed":
                        entry.State = "failed";
                        entry.ErrorCode = Str(r, "code");
                        entry.ErrorMessage = Str(r, "message");
                        break;
                    case "cancelled":
                        entry.State = "cancelled";
                        break;
                    default:
                        throw new FormatException($"an unknown record type '{type}'.");
                }
            }

            private static string? Str(JsonElement r, string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

            private static IReadOnlyList<string> Strings(JsonElement r, string name) =>
                r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetString() ?? string.Empty).ToList() : (IReadOnlyList<string>)Array.Empty<string>();
    }
}

/// <summary>An item's id is part of every journal and idempotency key: it must never change between versions.</summary>
public sealed class WorkItemIdTests
{
    [Theory]
    [InlineData(5, "hello", null, "{}")]
    [InlineData(12, "a red bird", "flux-dev", "{}")]
    [InlineData(7, "café ünïcode", null, "{\"seed\":3}")]
    public void Id_IsThePositionAndTheStartOfTheContentsSha256(long index, string prompt, string? model, string inputJson)
    {
        var input = inputJson == "{}" ? null : new Dictionary<string, object?> { ["seed"] = 3 };

        var item = new WorkItem(index, prompt, model, input);

        var content = (model ?? string.Empty) + "\n" + prompt + "\n" + inputJson;
        Assert.Equal(inputJson, item.InputJson);
        Assert.Equal(index + "-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..8], item.Id);
    }

    [Fact]
    public async Task Hash_FromManyThreadsAtOnce_IsTheSameAsFromOne()
    {
        var expected = Enumerable.Range(0, 200).Select(i => WorkItem.Hash("content " + i, 8)).ToList();

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Enumerable.Range(0, 200).Select(i => WorkItem.Hash("content " + i, 8)).ToList())));

        Assert.All(results, r => Assert.Equal(expected, r));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("content 0")))[..16], expected[0]);
    }
}
