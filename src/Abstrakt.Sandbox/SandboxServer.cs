using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Json;
using Abstrakt.Webhooks;

namespace Abstrakt.Sandbox
{
    /// <summary>
    /// A local emulator of the abstrakt API (shared/abstrakt-api.md), served on 127.0.0.1: models with input
    /// schemas, auth, plans and rate limits, jobs, cancel, retention, credits, real output files, signed
    /// webhooks, idempotency, and reproducible fault injection. The module's default and every test's ground truth.
    /// </summary>
    public sealed class SandboxServer : IDisposable
    {
        private static readonly string[] AllScopes = { "models:read", "models:run", "jobs:read", "jobs:write", "webhooks:manage" };

        /// <summary>The fewest jobs created between two sweeps of expired ones.</summary>
        private const int MinPurgeInterval = 1024;

        private readonly SandboxOptions _options;
        private readonly LoopbackHttpServer _http;
        private readonly ConcurrentDictionary<string, SandboxAccount> _accounts = new ConcurrentDictionary<string, SandboxAccount>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, SandboxJob> _jobs = new ConcurrentDictionary<string, SandboxJob>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, Lazy<SandboxJob>> _byIdempotencyKey = new ConcurrentDictionary<string, Lazy<SandboxJob>>(StringComparer.Ordinal);
        private readonly Random _random;
        private readonly HttpClient _webhookClient = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private long _jobCounter;
        private long _purgeAtJob = MinPurgeInterval;
        private int _purging;

        private SandboxServer(SandboxOptions options)
        {
            _options = options;
            _random = new Random(options.Seed);
            ApiKey = new Secret("sk_test_" + RandomHex(24));
            WebhookSecret = new Secret("whsec_" + RandomHex(24));
            _accounts[ApiKey.Reveal()] = new SandboxAccount(ApiKey.Reveal(), AllScopes, options.Credits, Concurrency(options.Tier));
            _http = new LoopbackHttpServer(options.Port, HandleAsync);
        }

        /// <summary>The base address, http://127.0.0.1:port.</summary>
        public Uri Uri { get; private set; } = null!;

        /// <summary>The sk_test_ key this sandbox issued, with every scope.</summary>
        public Secret ApiKey { get; }

        /// <summary>The secret the sandbox signs webhooks with.</summary>
        public Secret WebhookSecret { get; }

        /// <summary>The options it runs with.</summary>
        public SandboxOptions Options => _options;

        /// <summary>Fault injection, changeable while it runs.</summary>
        public SandboxFaults Faults => _options.Faults;

        /// <summary>The counters.</summary>
        public SandboxStats Stats { get; } = new SandboxStats();

        /// <summary>The rate-limit window after time scaling.</summary>
        public TimeSpan RateLimitWindow => TimeSpan.FromTicks((long)(_options.RateWindow.Ticks * _options.TimeScale));

        /// <summary>Requests per window; null when unlimited.</summary>
        public int? RequestsPerWindow => _options.RequestsPerWindow ?? (Plan(_options.Tier) is AbstraktPlan plan ? Plans.RequestsPerMinute(plan) : null);

        /// <summary>Starts a sandbox on 127.0.0.1.</summary>
        /// <param name="options">How it behaves; null for the defaults.</param>
        /// <returns>The running sandbox.</returns>
        public static SandboxServer Start(SandboxOptions? options = null)
        {
            options ??= new SandboxOptions();
            if (options.TimeScale <= 0 || options.LatencyScale < 0 || options.RateWindow < TimeSpan.FromMilliseconds(1))
            {
                throw new ArgumentOutOfRangeException(nameof(options), "TimeScale must be above 0, LatencyScale at least 0 and RateWindow at least 1 ms.");
            }

            var server = new SandboxServer(options);
            server._http.Start();
            server.Uri = new Uri("http://127.0.0.1:" + server._http.Port.ToString(CultureInfo.InvariantCulture));
            return server;
        }

        private static AbstraktPlan? Plan(SandboxTier tier) => tier switch
        {
            SandboxTier.Free => AbstraktPlan.Free,
            SandboxTier.Pro => AbstraktPlan.Pro,
            SandboxTier.Business => AbstraktPlan.Business,
            _ => null,
        };

        private static int Concurrency(SandboxTier tier) => Plan(tier) is AbstraktPlan plan ? Plans.Concurrency(plan) : 4096;

        /// <summary>Issues another key, with only the given scopes and credits (to test FORBIDDEN and QUOTA_EXCEEDED).</summary>
        /// <param name="scopes">The scopes; null for all.</param>
        /// <param name="credits">The credits; null for the sandbox's default.</param>
        /// <returns>The key.</returns>
        public Secret IssueKey(IEnumerable<string>? scopes = null, long? credits = null)
        {
            var key = new Secret("sk_test_" + RandomHex(24));
            _accounts[key.Reveal()] = new SandboxAccount(key.Reveal(), scopes ?? AllScopes, credits ?? _options.Credits, Concurrency(_options.Tier));
            return key;
        }

        /// <summary>Ends the retention of every job now, as if 24 hours had passed.</summary>
        public void ExpireAllJobs()
        {
            foreach (var job in _jobs.Values)
            {
                job.ExpiresAt = DateTimeOffset.MinValue;
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _stopping.Cancel();
            _http.Dispose();
            foreach (var job in _jobs.Values)
            {
                job.Cancel.Cancel();
            }

            _webhookClient.Dispose();
        }

        private async Task<HttpResponseData> HandleAsync(HttpRequestData request, CancellationToken cancellationToken)
        {
            if (request.Path.StartsWith("/outputs/", StringComparison.Ordinal))
            {
                return ServeOutput(request);
            }

            if (request.Path.StartsWith("/_sandbox/", StringComparison.Ordinal))
            {
                return HandleSandboxControl(request);
            }

            if (!request.Path.StartsWith("/v1/", StringComparison.Ordinal))
            {
                return Error(404, "NOT_FOUND", "No such path: " + request.Path);
            }

            Stats.Request();
            var response = await HandleApiAsync(request, cancellationToken).ConfigureAwait(false);
            Stats.Response(response.Status);
            return response;
        }

        /// <summary>Counts a create that made a job whose answer is about to be cut, keyed by the job's prompt.</summary>
        private void CountCutCreate(HttpRequestData request, HttpResponseData response)
        {
            if (request.Method != "POST" || !request.Path.EndsWith("/run", StringComparison.Ordinal) || response.Status is not (200 or 202))
            {
                return;
            }

            using var doc = JsonDocument.Parse(response.Body);
            if (doc.RootElement.TryGetProperty("job_id", out var id) && _jobs.TryGetValue(id.GetString() ?? string.Empty, out var job))
            {
                Stats.CreateCut(job.Prompt);
            }
        }

        private async Task<HttpResponseData> HandleApiAsync(HttpRequestData request, CancellationToken cancellationToken)
        {
            var authorization = request.Header("Authorization");
            var key = authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization.Substring(7).Trim() : null;
            if (key is null || !_accounts.TryGetValue(key, out var account))
            {
                return Error(401, ErrorCodes.Unauthorized, key is null ? "Missing API key: send Authorization: Bearer <key>." : "Invalid API key.");
            }

            var limited = CheckRateLimit(account, out var rateHeaders);
            if (limited is not null)
            {
                Stats.Limited();
                return WithHeaders(limited, rateHeaders);
            }

            if (Roll(Faults.TransientErrorRate))
            {
                var transient = Roll(0.5)
                    ? Error(503, ErrorCodes.ModelUnavailable, "The model is temporarily unavailable.")
                    : new HttpResponseData { Status = 500, ContentType = "text/html", Body = Encoding.UTF8.GetBytes("<html><body><h1>500 Internal Server Error</h1></body></html>") };
                return WithHeaders(transient, rateHeaders);
            }

            var response = await RouteAsync(request, account, cancellationToken).ConfigureAwait(false);

            // Faults after the work is done: the client cannot know whether its request took effect.
            if (Roll(Faults.CutConnectionRate))
            {
                CountCutCreate(request, response);
                response = new HttpResponseData { Status = response.Status, ContentType = response.ContentType, Body = response.Body, CutMidBody = true };
            }
            else if (Roll(Faults.TimeoutRate))
            {
                await _options.Time.Delay(Faults.TimeoutDelay, cancellationToken).ConfigureAwait(false);
            }
            else if (Roll(Faults.MalformedRate))
            {
                response = new HttpResponseData { Status = 200, ContentType = "application/json", Body = Encoding.UTF8.GetBytes("{\"job_id\": \"job_") };
            }

            return WithHeaders(response, rateHeaders);
        }

        private async Task<HttpResponseData> RouteAsync(HttpRequestData request, SandboxAccount account, CancellationToken cancellationToken)
        {
            var path = request.Path;
            if (path.StartsWith("/v1/models", StringComparison.Ordinal))
            {
                var rest = path.Length > "/v1/models".Length ? Uri.UnescapeDataString(path.Substring("/v1/models/".Length)) : string.Empty;
                if (request.Method == "POST" && rest.EndsWith("/run", StringComparison.Ordinal))
                {
                    return NeedScope(account, "models:run") ?? await RunAsync(request, account, rest.Substring(0, rest.Length - 4), cancellationToken).ConfigureAwait(false);
                }

                if (request.Method == "GET")
                {
                    return NeedScope(account, "models:read") ?? (rest.Length == 0 ? ListModels(request) : GetModel(rest));
                }
            }
            else if (path.StartsWith("/v1/jobs/", StringComparison.Ordinal))
            {
                var id = Uri.UnescapeDataString(path.Substring("/v1/jobs/".Length));
                if (id.EndsWith("/result", StringComparison.Ordinal))
                {
                    id = id.Substring(0, id.Length - "/result".Length);
                }

                var job = FindJob(id, account);
                if (request.Method == "GET")
                {
                    return NeedScope(account, "jobs:read") ?? (job is null ? JobNotFound(id) : Json(200, JobJson(job)));
                }

                if (request.Method == "DELETE")
                {
                    return NeedScope(account, "jobs:write") ?? (job is null ? JobNotFound(id) : Json(200, JobJson(CancelJob(job))));
                }
            }

            return Error(404, "NOT_FOUND", "No such endpoint: " + request.Method + " " + path);
        }

        private async Task<HttpResponseData> RunAsync(HttpRequestData request, SandboxAccount account, string modelId, CancellationToken cancellationToken)
        {
            var model = SandboxCatalog.Find(modelId);
            if (model is null)
            {
                return Error(404, ErrorCodes.ModelNotFound, "Unknown model '" + modelId + "'. List models with GET /v1/models.");
            }

            JsonDocument body;
            try
            {
                body = JsonDocument.Parse(request.Body);
            }
            catch (JsonException)
            {
                return Error(400, ErrorCodes.InvalidInput, "The request body is not valid JSON.");
            }

            using (body)
            {
                var root = body.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
                {
                    return Error(400, ErrorCodes.InvalidInput, "The request body needs an \"input\" object.", Details("input", "is required"));
                }

                var sync = !(root.TryGetProperty("sync", out var s) && s.ValueKind == JsonValueKind.False)
                           && !(root.TryGetProperty("async", out var a) && a.ValueKind == JsonValueKind.True);
                Uri? webhook = null;
                if (root.TryGetProperty("webhook_url", out var w) && w.ValueKind == JsonValueKind.String)
                {
                    if (!Uri.TryCreate(w.GetString(), UriKind.Absolute, out webhook) || (webhook.Scheme != Uri.UriSchemeHttp && webhook.Scheme != Uri.UriSchemeHttps))
                    {
                        return Error(400, ErrorCodes.InvalidInput, "webhook_url must be an absolute http(s) URL.", Details("webhook_url", "is not an http(s) URL"));
                    }

                    if (!webhook.IsLoopback)
                    {
                        // The sandbox never sends traffic off this machine.
                        return Error(400, ErrorCodes.InvalidInput, "The sandbox delivers webhooks only to loopback addresses.", Details("webhook_url", "is not a loopback address"));
                    }

                    sync = false;
                }

                SandboxImage? image = null;
                if (model.ImageField is string field && input.TryGetProperty(field, out var source) && source.ValueKind == JsonValueKind.String)
                {
                    var (decoded, problem) = await SandboxImages.ReadAsync(source.GetString()!, cancellationToken).ConfigureAwait(false);
                    if (problem is not null)
                    {
                        return Error(400, ErrorCodes.InvalidInput, "input." + field + " " + problem + ".", Details("input." + field, problem));
                    }

                    image = decoded;
                }

                var idempotencyKey = request.Header("Idempotency-Key");
                SandboxJob job;
                if (idempotencyKey is not null && !_options.IgnoreIdempotencyKey)
                {
                    var created = false;
                    HttpResponseData? refusal = null;
                    var lazy = _byIdempotencyKey.GetOrAdd(account.Key + "\n" + idempotencyKey, _ => new Lazy<SandboxJob>(() =>
                    {
                        created = true;
                        return CreateJob(account, model, input, webhook, idempotencyKey, image, out refusal)!;
                    }));
                    job = lazy.Value;
                    if (refusal is not null || job is null)
                    {
                        _byIdempotencyKey.TryRemove(account.Key + "\n" + idempotencyKey, out _);
                        return refusal ?? Error(500, "INTERNAL", "job creation failed");
                    }

                    if (!created)
                    {
                        if (job.ExpiresAt < _options.Time.GetUtcNow())
                        {
                            _byIdempotencyKey.TryRemove(account.Key + "\n" + idempotencyKey, out _);
                            return await RunAsync(request, account, modelId, cancellationToken).ConfigureAwait(false);
                        }

                        Stats.Replayed();
                    }
                }
                else
                {
                    // An ignored key is still counted, so a test sees every job made for it.
                    job = CreateJob(account, model, input, webhook, idempotencyKey, image, out var refusal)!;
                    if (refusal is not null)
                    {
                        return refusal;
                    }
                }

                if (sync)
                {
                    await Task.WhenAny(job.Done.Task, _options.Time.Delay(_options.SyncTimeout, cancellationToken)).ConfigureAwait(false);
                }

                return Json(job.Done.Task.IsCompleted && sync ? 200 : 202, JobJson(job));
            }
        }

        private SandboxJob? CreateJob(SandboxAccount account, SandboxModel model, JsonElement input, Uri? webhook, string? idempotencyKey, SandboxImage? image, out HttpResponseData? refusal)
        {
            var problem = SandboxCatalog.Validate(model.Schema, input);
            if (problem is not null)
            {
                refusal = Error(400, ErrorCodes.InvalidInput, problem.Value.Field + " " + problem.Value.Problem + ".", Details(problem.Value.Field, problem.Value.Problem));
                return null;
            }

            var outputs = input.TryGetProperty("num_images", out var n) ? n.GetInt32() : 1;
            var cost = model.Credits * outputs;
            lock (account)
            {
                if (account.Credits < cost)
                {
                    refusal = Error(402, ErrorCodes.QuotaExceeded, $"Not enough credits: the run costs {cost}, {account.Credits} left.");
                    return null;
                }

                account.Credits -= cost; // reserved now, refunded on failure or cancel
            }

            // An image-input model's output derives from its input: same size, or scaled (the upscaler).
            var (width, height) = image is not null ? (image.Width * model.Scale, image.Height * model.Scale)
                : model.Category == "video" ? (256, 144) : SandboxCatalog.ImageSize(input);
            var now = _options.Time.GetUtcNow();
            var job = new SandboxJob
            {
                Id = "job_" + Interlocked.Increment(ref _jobCounter).ToString("x6", CultureInfo.InvariantCulture) + RandomHex(5),
                Account = account,
                Model = model,
                Prompt = (input.TryGetProperty("prompt", out var p) ? p.GetString() : input.TryGetProperty("text", out var t) ? t.GetString() : null) ?? string.Empty,
                Seed = input.TryGetProperty("seed", out var seed) && seed.TryGetInt64(out var sv) ? sv : 0,
                Width = width,
                Height = height,
                Outputs = outputs,
                Cost = cost,
                WebhookUrl = webhook,
                CreatedAt = now,
                ExpiresAt = now + TimeSpan.FromTicks((long)(TimeSpan.FromHours(24).Ticks * _options.TimeScale)),
            };
            _jobs[job.Id] = job;
            PurgeExpiredWhenDue();
            Stats.Created(idempotencyKey);
            if (image is not null)
            {
                Stats.InputImage(job.Id, image);
            }

            refusal = null;
            _ = Task.Run(() => ProcessAsync(job));
            return job;
        }

        /// <summary>
        /// Forgets ended jobs past their retention once as many jobs were created as the last sweep kept, so
        /// a long-lived sandbox (the module's embedded default) holds about one retention period of jobs, at
        /// amortised constant cost per job.
        /// </summary>
        private void PurgeExpiredWhenDue()
        {
            if (Interlocked.Read(ref _jobCounter) < Interlocked.Read(ref _purgeAtJob) || Interlocked.Exchange(ref _purging, 1) == 1)
            {
                return;
            }

            try
            {
                var now = _options.Time.GetUtcNow();
                foreach (var pair in _jobs)
                {
                    if (pair.Value.ExpiresAt < now && pair.Value.Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled)
                    {
                        _jobs.TryRemove(pair.Key, out _);
                    }
                }

                foreach (var pair in _byIdempotencyKey)
                {
                    if (pair.Value.IsValueCreated && pair.Value.Value?.Id is { } id && !_jobs.ContainsKey(id))
                    {
                        _byIdempotencyKey.TryRemove(pair.Key, out _);
                    }
                }

                Interlocked.Exchange(ref _purgeAtJob, Interlocked.Read(ref _jobCounter) + Math.Max(MinPurgeInterval, _jobs.Count));
            }
            finally
            {
                Volatile.Write(ref _purging, 0);
            }
        }

        private async Task ProcessAsync(SandboxJob job)
        {
            var slotTaken = false;
            try
            {
                await job.Account.Slots.WaitAsync(job.Cancel.Token).ConfigureAwait(false);
                slotTaken = true;
                lock (job.Lock)
                {
                    if (job.Status != JobStatus.Pending)
                    {
                        return;
                    }

                    job.Status = JobStatus.Processing;
                }

                var latency = _options.FixedLatency ?? TimeSpan.FromTicks((long)(job.Model.Latency.Ticks * _options.LatencyScale));
                if (latency > TimeSpan.Zero)
                {
                    await _options.Time.Delay(latency, job.Cancel.Token).ConfigureAwait(false);
                }

                string? failure = Roll(Faults.InferenceFailureRate) ? ErrorCodes.InferenceFailed
                    : Roll(Faults.ProviderFailureRate) ? ErrorCodes.ProviderFailure
                    : Roll(Faults.JobTimeoutRate) ? ErrorCodes.Timeout
                    : null;
                lock (job.Lock)
                {
                    if (job.Status != JobStatus.Processing)
                    {
                        return;
                    }

                    job.CompletedAt = _options.Time.GetUtcNow();
                    job.Duration = latency;
                    if (failure is null)
                    {
                        job.Status = JobStatus.Completed;
                        Stats.Completed(job.Prompt, job.Cost);
                    }
                    else
                    {
                        job.Status = JobStatus.Failed;
                        job.ErrorCode = failure;
                        job.ErrorMessage = failure switch
                        {
                            ErrorCodes.InferenceFailed => "The model failed on this input (a content filter may have rejected the prompt).",
                            ErrorCodes.Timeout => "The model took too long.",
                            _ => "The upstream provider failed; try again.",
                        };
                        Refund(job);
                        Stats.Failed();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Cancelled by DELETE or by the sandbox stopping.
            }
            finally
            {
                if (slotTaken)
                {
                    job.Account.Slots.Release();
                }

                job.Done.TrySetResult(true);
            }

            if (job.WebhookUrl is not null && job.Status is JobStatus.Completed or JobStatus.Failed && !_stopping.IsCancellationRequested)
            {
                await DeliverWebhookAsync(job).ConfigureAwait(false);
            }
        }

        private SandboxJob CancelJob(SandboxJob job)
        {
            lock (job.Lock)
            {
                if (job.Status is JobStatus.Pending or JobStatus.Processing)
                {
                    job.Status = JobStatus.Cancelled;
                    job.CompletedAt = _options.Time.GetUtcNow();
                    Refund(job);
                    Stats.Cancelled();
                    job.Cancel.Cancel();
                }
            }

            return job;
        }

        private static void Refund(SandboxJob job)
        {
            lock (job.Account)
            {
                job.Account.Credits += job.Cost;
            }
        }

        private async Task DeliverWebhookAsync(SandboxJob job)
        {
            if (Roll(Faults.WebhookDropRate))
            {
                Stats.WebhookDropped();
                return;
            }

            if (Faults.WebhookShuffle > TimeSpan.Zero)
            {
                await _options.Time.Delay(TimeSpan.FromTicks((long)(Faults.WebhookShuffle.Ticks * NextDouble())), _stopping.Token).ConfigureAwait(false);
            }

            var body = WebhookBody(job);
            for (var copy = 0; copy < (Faults.WebhookDuplicate ? 2 : 1); copy++)
            {
                for (var attempt = 0; attempt < 5 && !_stopping.IsCancellationRequested; attempt++)
                {
                    Stats.WebhookAttempt();
                    try
                    {
                        var timestamp = _options.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                        using var message = new HttpRequestMessage(HttpMethod.Post, job.WebhookUrl) { Content = new ByteArrayContent(body) };
                        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                        message.Headers.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp);
                        message.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Compute(WebhookSecret.Reveal(), timestamp, body));
                        using var response = await _webhookClient.SendAsync(message, _stopping.Token).ConfigureAwait(false);
                        if (response.IsSuccessStatusCode)
                        {
                            Stats.WebhookDelivered();
                            break;
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        // The receiver is down or slow: retry with backoff, as a non-2xx.
                    }

                    var backoff = TimeSpan.FromTicks((long)(TimeSpan.FromSeconds(Math.Pow(2, attempt)).Ticks * _options.TimeScale));
                    try
                    {
                        await _options.Time.Delay(backoff < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : backoff, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }

        private byte[] WebhookBody(SandboxJob job)
        {
            var payload = new Dictionary<string, object?> { ["job_id"] = job.Id, ["model_id"] = job.Model.Id };
            if (job.Status == JobStatus.Completed)
            {
                payload["status"] = "succeeded";
                payload["output"] = OutputJson(job);
                payload["credits_used"] = job.Cost;
                payload["completed_at"] = Iso(job.CompletedAt);
            }
            else
            {
                payload["status"] = "failed";
                payload["error"] = new Dictionary<string, object?> { ["code"] = job.ErrorCode, ["message"] = job.ErrorMessage };
            }

            return JsonValues.ToUtf8(payload);
        }

        private HttpResponseData? CheckRateLimit(SandboxAccount account, out Dictionary<string, string> headers)
        {
            headers = new Dictionary<string, string>(StringComparer.Ordinal);
            if (RequestsPerWindow is not int limit)
            {
                return null;
            }

            var now = _options.Time.GetUtcNow();
            lock (account.RecentRequests)
            {
                var (used, reset) = _options.RateWindowMode == RateWindowMode.Fixed ? CountFixed(account, now, limit) : CountSliding(account, now, limit);
                var full = used > limit;
                headers["X-RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
                headers["X-RateLimit-Remaining"] = Math.Max(0, limit - used).ToString(CultureInfo.InvariantCulture);
                headers["X-RateLimit-Reset"] = ResetHeader(reset);
                if (!full)
                {
                    return null;
                }

                var wait = Math.Max(1, (int)Math.Ceiling((reset - now).TotalSeconds));
                var response = Error(429, ErrorCodes.RateLimited, $"Rate limit of {limit} requests per {RateLimitWindow.TotalSeconds:0.###} s exceeded.", retryAfter: wait);
                response.Headers["Retry-After"] = wait.ToString(CultureInfo.InvariantCulture);
                return response;
            }
        }

        /// <summary>Counts a request in a sliding log (refused ones are not logged): the count with it, and when a slot frees.</summary>
        private (int Used, DateTimeOffset Reset) CountSliding(SandboxAccount account, DateTimeOffset now, int limit)
        {
            var window = RateLimitWindow;
            var log = account.RecentRequests;
            while (log.Count > 0 && log.Peek() <= now - window)
            {
                log.Dequeue();
            }

            var used = log.Count + 1;
            if (used <= limit)
            {
                log.Enqueue(now);
            }

            return (used, log.Peek() + window);
        }

        /// <summary>Counts a request in the clock-aligned window it falls in: the count with it, and the window's end.</summary>
        private (int Used, DateTimeOffset Reset) CountFixed(SandboxAccount account, DateTimeOffset now, int limit)
        {
            var window = RateLimitWindow.Ticks;
            var epoch = DateTimeOffset.FromUnixTimeMilliseconds(0);
            var start = epoch.AddTicks((now - epoch).Ticks / window * window);
            if (start != account.FixedWindowStart)
            {
                account.FixedWindowStart = start;
                account.FixedWindowCount = 0;
            }

            var used = account.FixedWindowCount + 1;
            if (used <= limit)
            {
                account.FixedWindowCount = used;
            }

            return (used, start.AddTicks(window));
        }

        /// <summary>
        /// Unix seconds rounded up (never earlier than the slot frees), whole as the service sends them; a time-scaled
        /// sandbox rounds to its scaled second instead, so a client sees what it would from a real window.
        /// </summary>
        private string ResetHeader(DateTimeOffset reset)
        {
            var second = Math.Min(1, _options.TimeScale);
            // From ticks, not whole milliseconds: truncating to the millisecond could announce a reset up to 1 ms before
            // the slot frees, and a client that trusts it exactly is then refused.
            var unixSeconds = (reset - DateTimeOffset.FromUnixTimeMilliseconds(0)).Ticks / (double)TimeSpan.TicksPerSecond;
            var seconds = Math.Ceiling(unixSeconds / second) * second;
            return seconds.ToString(second < 1 ? "0.###" : "0", CultureInfo.InvariantCulture);
        }

        private HttpResponseData ServeOutput(HttpRequestData request)
        {
            // /outputs/{jobId}/{index}.{ext}
            var parts = request.Path.Split('/');
            if (parts.Length != 4 || !_jobs.TryGetValue(parts[2], out var job) || job.Status != JobStatus.Completed || job.ExpiresAt < _options.Time.GetUtcNow() ||
                !int.TryParse(Path.GetFileNameWithoutExtension(parts[3]), NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= job.Outputs)
            {
                return Error(404, "NOT_FOUND", "No such output.");
            }

            var seed = job.Seed + index;
            return job.Model.Category switch
            {
                "video" => new HttpResponseData { ContentType = "image/apng", Body = SyntheticMedia.AnimatedPng(job.Prompt, seed, job.Width, job.Height, 8) },
                "audio" => new HttpResponseData { ContentType = "audio/wav", Body = SyntheticMedia.Wav(job.Prompt, seed, 1.0) },
                _ when job.Model.Alpha => new HttpResponseData { ContentType = "image/png", Body = SyntheticMedia.PngWithAlpha(job.Prompt, seed, job.Width, job.Height) },
                _ => new HttpResponseData { ContentType = "image/png", Body = SyntheticMedia.Png(job.Prompt, seed, job.Width, job.Height) },
            };
        }

        private HttpResponseData HandleSandboxControl(HttpRequestData request)
        {
            switch (request.Method + " " + request.Path)
            {
                case "GET /_sandbox/stats":
                    return Json(200, new Dictionary<string, object?>
                    {
                        ["jobs_created"] = Stats.JobsCreated,
                        ["jobs_held"] = _jobs.Count,
                        ["requests_total"] = Stats.RequestsTotal,
                        ["rate_limited"] = Stats.RateLimited,
                        ["credits_charged"] = Stats.CreditsCharged,
                        ["jobs_completed"] = Stats.JobsCompleted,
                        ["jobs_failed"] = Stats.JobsFailed,
                        ["jobs_cancelled"] = Stats.JobsCancelled,
                        ["idempotent_replays"] = Stats.IdempotentReplays,
                        ["webhook_attempts"] = Stats.WebhookAttempts,
                        ["webhooks_delivered"] = Stats.WebhooksDelivered,
                        ["webhooks_dropped"] = Stats.WebhooksDropped,
                        ["responses_by_status"] = Stats.ResponsesByStatus.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => (object?)p.Value),
                        ["credits_by_prompt"] = Stats.CreditsByPrompt.ToDictionary(p => p.Key, p => (object?)p.Value),
                        ["cut_creates_by_prompt"] = Stats.CutCreatesByPrompt.ToDictionary(p => p.Key, p => (object?)p.Value),
                        ["jobs_by_idempotency_key"] = Stats.JobsByIdempotencyKey.ToDictionary(p => p.Key, p => (object?)p.Value),
                        ["input_images"] = Stats.InputImages.ToDictionary(p => p.Key, p => (object?)new Dictionary<string, object?> { ["width"] = p.Value.Width, ["height"] = p.Value.Height, ["media_type"] = p.Value.MediaType, ["sha256"] = p.Value.Sha256 }),
                    });
                case "POST /_sandbox/expire":
                    ExpireAllJobs();
                    return Json(200, new Dictionary<string, object?> { ["expired"] = true });
                default:
                    return Error(404, "NOT_FOUND", "No such sandbox endpoint.");
            }
        }

        private HttpResponseData ListModels(HttpRequestData request)
        {
            var category = request.QueryValue("category");
            var search = request.QueryValue("search");
            var limit = Math.Min(100, Math.Max(1, int.TryParse(request.QueryValue("limit"), out var l) ? l : 20));
            var offset = Math.Max(0, int.TryParse(request.QueryValue("offset"), out var o) ? o : 0);
            var matching = SandboxCatalog.Models
                .Where(m => string.IsNullOrEmpty(category) || string.Equals(m.Category, category, StringComparison.OrdinalIgnoreCase))
                .Where(m => string.IsNullOrEmpty(search) || (m.Id + " " + m.Name + " " + m.Description).IndexOf(search, StringComparison.OrdinalIgnoreCase) >= 0)
                .ToList();
            return Json(200, new Dictionary<string, object?>
            {
                ["models"] = matching.Skip(offset).Take(limit).Select(m => ModelJson(m, withSchema: true)).ToList(),
                ["total"] = matching.Count,
                ["limit"] = limit,
                ["offset"] = offset,
            });
        }

        private static HttpResponseData GetModel(string id)
        {
            var model = SandboxCatalog.Find(id);
            return model is null
                ? Error(404, ErrorCodes.ModelNotFound, "Unknown model '" + id + "'.")
                : Json(200, ModelJson(model, withSchema: true));
        }

        private static Dictionary<string, object?> ModelJson(SandboxModel model, bool withSchema)
        {
            var json = new Dictionary<string, object?>
            {
                ["id"] = model.Id,
                ["name"] = model.Name,
                ["category"] = model.Category,
                ["description"] = model.Description,
                ["credits"] = model.Credits,
            };
            if (withSchema)
            {
                json["input_schema"] = model.Schema;
            }

            return json;
        }

        private Dictionary<string, object?> JobJson(SandboxJob job)
        {
            var json = new Dictionary<string, object?>
            {
                ["job_id"] = job.Id,
                ["request_id"] = job.Id,
                ["status"] = job.Status.ToString().ToLowerInvariant(),
                ["model_id"] = job.Model.Id,
                ["created_at"] = Iso(job.CreatedAt),
            };
            switch (job.Status)
            {
                case JobStatus.Completed:
                    json["output"] = OutputJson(job);
                    json["duration_ms"] = (long)job.Duration.TotalMilliseconds;
                    json["credits_used"] = job.Cost;
                    json["completed_at"] = Iso(job.CompletedAt);
                    break;
                case JobStatus.Failed:
                    json["error"] = new Dictionary<string, object?> { ["code"] = job.ErrorCode, ["message"] = job.ErrorMessage };
                    json["credits_used"] = 0;
                    break;
                case JobStatus.Cancelled:
                    json["credits_used"] = 0;
                    break;
                default:
                    json["message"] = "The job is still running: poll GET /v1/jobs/" + job.Id + " until it ends.";
                    break;
            }

            return json;
        }

        private Dictionary<string, object?> OutputJson(SandboxJob job)
        {
            var (type, extension, contentType) = job.Model.Category switch
            {
                "video" => ("video", "apng", "image/apng"),
                "audio" => ("audio", "wav", "audio/wav"),
                _ => ("image", "png", "image/png"),
            };
            var items = Enumerable.Range(0, job.Outputs).Select(i =>
            {
                var item = new Dictionary<string, object?>
                {
                    ["type"] = type,
                    ["url"] = Uri.AbsoluteUri + "outputs/" + job.Id + "/" + i.ToString(CultureInfo.InvariantCulture) + "." + extension,
                    ["content_type"] = contentType,
                };
                if (type != "audio")
                {
                    item["width"] = job.Width;
                    item["height"] = job.Height;
                }

                return item;
            }).ToList();
            return new Dictionary<string, object?> { ["type"] = type, ["items"] = items };
        }

        private SandboxJob? FindJob(string id, SandboxAccount account) =>
            _jobs.TryGetValue(id, out var job) && job.Account == account && job.ExpiresAt >= _options.Time.GetUtcNow() ? job : null;

        private static HttpResponseData? NeedScope(SandboxAccount account, string scope) =>
            account.Scopes.Contains(scope) ? null : Error(403, ErrorCodes.Forbidden, "This key lacks the '" + scope + "' scope.");

        private static HttpResponseData JobNotFound(string id) =>
            Error(404, ErrorCodes.JobNotFound, "Job '" + id + "' does not exist or has expired (results are kept 24 hours).");

        private static Dictionary<string, object?> Details(string field, string problem) =>
            new Dictionary<string, object?> { ["field"] = field, ["problem"] = problem };

        private static HttpResponseData Error(int status, string code, string message, Dictionary<string, object?>? details = null, int? retryAfter = null)
        {
            var error = new Dictionary<string, object?> { ["code"] = code, ["message"] = message };
            if (details is not null)
            {
                error["details"] = details;
            }

            if (retryAfter is not null)
            {
                error["retry_after"] = retryAfter;
            }

            return Json(status, new Dictionary<string, object?> { ["error"] = error });
        }

        private static HttpResponseData Json(int status, object payload) =>
            new HttpResponseData { Status = status, Body = JsonValues.ToUtf8(payload) };

        private static HttpResponseData WithHeaders(HttpResponseData response, Dictionary<string, string> headers)
        {
            foreach (var header in headers)
            {
                response.Headers[header.Key] = header.Value;
            }

            return response;
        }

        private static string? Iso(DateTimeOffset? time) => time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        private bool Roll(double rate) => rate > 0 && NextDouble() < rate;

        private double NextDouble()
        {
            lock (_random)
            {
                return _random.NextDouble();
            }
        }

        private static string RandomHex(int bytes)
        {
            var buffer = new byte[bytes];
            using (var rng = RandomNumberGenerator.Create())
            {
                rng.GetBytes(buffer);
            }

            return string.Concat(buffer.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        }
    }
}
