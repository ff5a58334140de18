using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api.Handlers;
using Abstrakt.Json;

namespace Abstrakt.Api
{
    /// <summary>How to submit a run.</summary>
    public sealed class RunRequest
    {
        /// <summary>The model id (short, or a provider path with slashes).</summary>
        public string Model { get; init; } = string.Empty;

        /// <summary>The model's input, validated by the service against the model's schema.</summary>
        public IReadOnlyDictionary<string, object?> Input { get; init; } = new Dictionary<string, object?>();

        /// <summary>Wait for the result (true), or return 202 at once (false).</summary>
        public bool Sync { get; init; } = true;

        /// <summary>
        /// With <see cref="Sync"/> false: wait for the result after all on a send where the rate limit's requests are
        /// scarce (see <see cref="AbstraktClient.RequestsScarce"/>): one request does the work of a create and a poll.
        /// Decided per send, after the rate-limit wait, when the gate knows most.
        /// </summary>
        public bool SyncWhenRequestsScarce { get; init; }

        /// <summary>
        /// How many more requests will soon want the window besides those waiting for it (a batch's items still to
        /// start): a batch larger than the window is short of requests from its first one.
        /// </summary>
        public Func<int>? Queued { get; init; }

        /// <summary>Where the service posts the finished job; implies an immediate 202.</summary>
        public Uri? WebhookUrl { get; init; }

        /// <summary>Sent as Idempotency-Key. The real service may ignore it, so nothing may depend on it (spec section 8).</summary>
        public string? IdempotencyKey { get; init; }

        /// <summary>
        /// Called each time the request is about to go on the wire (after any rate-limit wait): from then on the
        /// service may have created a job, so a caller that records this knows which creates may exist. The argument
        /// says whether this send asks the service to wait for the result (sync:true).
        /// </summary>
        public Action<bool>? Sending { get; init; }
    }

    /// <summary>
    /// The abstrakt REST API over one shared HttpClient per endpoint: runs, jobs, cancel, models and
    /// downloads, with typed failures (<see cref="AbstraktApiException"/>) and a rate gate shared by all callers.
    /// </summary>
    public sealed class AbstraktClient : IDisposable
    {
        /// <summary>The longest delay a server's hint can impose; a larger (or absurd) hint is cut to this.</summary>
        internal static readonly TimeSpan MaxServerDelay = TimeSpan.FromMinutes(5);

        /// <summary>Transient faults in a row that a wait for a job rides out before it reports the last one.</summary>
        private const int MaxPollFaultsInARow = 5;

        private readonly HttpClient _api;
        private readonly HttpClient _downloads;
        private readonly AbstraktClientOptions _options;
        private readonly string _basePath;
        private readonly HostKind _endpointKind;
        private long _answers;

        /// <summary>Creates a client. Plain http is accepted only for loopback addresses.</summary>
        /// <param name="options">The endpoint, key and limits.</param>
        public AbstraktClient(AbstraktClientOptions options)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            EnsureSafeEndpoint(options.Endpoint);
            _basePath = options.Endpoint.GetLeftPart(UriPartial.Authority);
            _endpointKind = OutputHosts.KindOfLiteral(options.Endpoint);
            Gate = new RateGate(options.Time, options.Plan is AbstraktPlan plan ? Plans.RequestsPerMinute(plan) : 0);

            var wire = options.Handler ?? new HttpClientHandler
            {
                MaxConnectionsPerServer = Math.Max(2, options.MaxConnections),
                AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
                AllowAutoRedirect = false,
                UseCookies = false,
            };

            // API requests: paced, then traced (past the wait), then given the key. Downloads share the connections but
            // none of the chain: no rate gate, and never the key (an output URL may be anyone's host).
            var api = new PacingHandler(Gate, options.Time)
            {
                InnerHandler = new TracingHandler(options.Time) { InnerHandler = new AuthHandler(options.ApiKey) { InnerHandler = wire } },
            };
            _api = NewHttpClient(api, disposeHandler: true);
            _downloads = NewHttpClient(wire, disposeHandler: false);
        }

        /// <summary>The options this client was made with.</summary>
        public AbstraktClientOptions Options => _options;

        /// <summary>
        /// API requests the service has answered with any HTTP status, ever. A batch that sees this stay put
        /// while its items fail on the network knows the endpoint is unreachable rather than flaky.
        /// </summary>
        public long Answers => Interlocked.Read(ref _answers);

        /// <summary>Requests now held back by the rate limit.</summary>
        public int RateLimitWaiting => Gate.Waiting;

        /// <summary>The request limit per window the service announced (<c>X-RateLimit-Limit</c>), once seen.</summary>
        public int? RateLimit => Gate.Limit;

        /// <summary>The request limit the service last reported in <c>X-RateLimit-Limit</c>; null before any response carried it.</summary>
        /// <remarks>Never a configured value or a plan's seed: only what the service said.</remarks>
        public int? ObservedRateLimit => Gate.Limit;

        /// <summary>True while the rate limit's requests are what limits this client (see <see cref="RunRequest.SyncWhenRequestsScarce"/>).</summary>
        public bool RequestsScarce => Gate.RequestsScarce;

        /// <summary>The rate-limit window as learnt from the service's <c>X-RateLimit-Reset</c>, once seen.</summary>
        public TimeSpan? RateLimitWindow => Gate.Window;

        internal RateGate Gate { get; }

        /// <summary>Refuses plain http to anything but loopback, so a key never crosses a network in clear text.</summary>
        /// <param name="endpoint">The endpoint.</param>
        public static void EnsureSafeEndpoint(Uri endpoint)
        {
            if (endpoint is null || !endpoint.IsAbsoluteUri)
            {
                throw new ArgumentException("The endpoint must be an absolute http(s) URI.", nameof(endpoint));
            }

            if (endpoint.Scheme == Uri.UriSchemeHttps || (endpoint.Scheme == Uri.UriSchemeHttp && endpoint.IsLoopback))
            {
                return;
            }

            throw new ArgumentException(
                endpoint.Scheme == Uri.UriSchemeHttp
                    ? $"Plain http is allowed only for loopback addresses; use https for '{endpoint.Host}'."
                    : $"The endpoint scheme '{endpoint.Scheme}' is not supported; use https.",
                nameof(endpoint));
        }

        /// <summary>POST /v1/models/{model}/run: 200 with a finished job, or 202 with a running one.</summary>
        /// <param name="request">What to run.</param>
        /// <param name="cancellationToken">Cancels the request.</param>
        /// <returns>The job as the service answered (terminal or not).</returns>
        public async Task<JobInfo> RunAsync(RunRequest request, CancellationToken cancellationToken = default)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            var body = new Dictionary<string, object?> { ["input"] = request.Input };
            if (request.WebhookUrl is not null)
            {
                body["webhook_url"] = request.WebhookUrl.AbsoluteUri;
            }

            // Decided per send, past the rate-limit wait, when the gate knows most. A webhook's create returns at once
            // whatever sync says.
            var adaptive = !request.Sync && request.WebhookUrl is null && request.SyncWhenRequestsScarce;
            var wait = request.Sync && request.WebhookUrl is null;
            void Sending()
            {
                wait = adaptive ? Gate.ScarceWith(request.Queued?.Invoke() ?? 0) : wait;
                request.Sending?.Invoke(wait);
            }

            using var doc = await SendAsync(HttpMethod.Post, "/v1/models/" + EscapeModel(request.Model) + "/run", RunBody(request.Input, body, () => wait), request.IdempotencyKey, cancellationToken, Sending).ConfigureAwait(false);
            return ReadJobOrThrow(doc.RootElement, "POST /v1/models/" + request.Model + "/run");
        }

        /// <summary>GET /v1/jobs/{id}.</summary>
        /// <param name="jobId">The job id.</param>
        /// <param name="cancellationToken">Cancels the request.</param>
        /// <returns>The job.</returns>
        public async Task<JobInfo> GetJobAsync(string jobId, CancellationToken cancellationToken = default)
        {
            using var doc = await SendAsync(HttpMethod.Get, "/v1/jobs/" + Uri.EscapeDataString(jobId), null, null, cancellationToken).ConfigureAwait(false);
            return ReadJobOrThrow(doc.RootElement, "GET /v1/jobs/" + jobId);
        }

        /// <summary>DELETE /v1/jobs/{id}: cancels a pending or processing job (not charged).</summary>
        /// <param name="jobId">The job id.</param>
        /// <param name="cancellationToken">Cancels the request.</param>
        /// <returns>The job after cancellation.</returns>
        public async Task<JobInfo> CancelJobAsync(string jobId, CancellationToken cancellationToken = default)
        {
            using var doc = await SendAsync(HttpMethod.Delete, "/v1/jobs/" + Uri.EscapeDataString(jobId), null, null, cancellationToken).ConfigureAwait(false);
            return ReadJobOrThrow(doc.RootElement, "DELETE /v1/jobs/" + jobId);
        }

        /// <summary>Polls a job until it ends, from 0.5 s rising to 5 s between polls.</summary>
        /// <param name="jobId">The job id.</param>
        /// <param name="cancellationToken">Cancels the wait (the caller's deadline goes here too).</param>
        /// <returns>The job in a terminal status.</returns>
        public Task<JobInfo> WaitForJobAsync(string jobId, CancellationToken cancellationToken = default) => WaitForJobAsync(jobId, null, cancellationToken);

        /// <summary>Polls a job until it ends, from 0.5 s rising to 5 s between polls, reporting each answer.</summary>
        /// <param name="jobId">The job id.</param>
        /// <param name="progress">Told the job's state after every poll; may be null.</param>
        /// <param name="cancellationToken">Cancels the wait (the caller's deadline goes here too).</param>
        /// <returns>The job in a terminal status.</returns>
        public async Task<JobInfo> WaitForJobAsync(string jobId, IProgress<JobInfo>? progress, CancellationToken cancellationToken)
        {
            var delay = _options.PollInitialDelay;
            var faults = 0;
            while (true)
            {
                JobInfo job;
                try
                {
                    job = await GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
                    faults = 0;
                }
                catch (AbstraktApiException ex) when (Engine.FailureClassifier.IsRetryable(ex) && ++faults <= MaxPollFaultsInARow)
                {
                    // A poll is a read: a passing fault says nothing about the job, so ask again after the next interval.
                    await _options.Time.Delay(ex.RetryAfter is TimeSpan hint && hint > delay ? hint : delay, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                progress?.Report(job);
                if (job.IsTerminal)
                {
                    return job;
                }

                await _options.Time.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(_options.PollMaxDelay.Ticks, (long)(delay.Ticks * 1.5)));
            }
        }

        /// <summary>GET /v1/models, following pages until the catalogue ends.</summary>
        /// <param name="category">Only this category, if set.</param>
        /// <param name="search">Only models matching this text, if set.</param>
        /// <param name="cancellationToken">Cancels the listing.</param>
        /// <returns>Every matching model.</returns>
        public async IAsyncEnumerable<ModelInfo> ListModelsAsync(string? category = null, string? search = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            const int PageSize = 100;
            for (var offset = 0; ; offset += PageSize)
            {
                var query = new StringBuilder("/v1/models?limit=").Append(PageSize).Append("&offset=").Append(offset);
                if (!string.IsNullOrEmpty(category))
                {
                    query.Append("&category=").Append(Uri.EscapeDataString(category));
                }

                if (!string.IsNullOrEmpty(search))
                {
                    query.Append("&search=").Append(Uri.EscapeDataString(search));
                }

                List<ModelInfo> page;
                int? total;
                using (var doc = await SendAsync(HttpMethod.Get, query.ToString(), null, null, cancellationToken).ConfigureAwait(false))
                {
                    var root = doc.RootElement;
                    var list = root.ValueKind == JsonValueKind.Array ? root
                        : root.TryGetProperty("models", out var m) ? m
                        : root.TryGetProperty("data", out var d) ? d : default;
                    if (list.ValueKind != JsonValueKind.Array)
                    {
                        throw new AbstraktApiException(ErrorCodes.BadResponse, "The service sent an unexpected model list.", 200, "GET /v1/models");
                    }

                    page = list.EnumerateArray().Select(ApiJson.ReadModel).ToList();
                    total = ApiJson.Int(root, "total");
                }

                foreach (var model in page)
                {
                    yield return model;
                }

                if (page.Count < PageSize || (total is int t && offset + page.Count >= t))
                {
                    yield break;
                }
            }
        }

        /// <summary>GET /v1/models/{id}, with its input schema.</summary>
        /// <param name="model">The model id.</param>
        /// <param name="cancellationToken">Cancels the request.</param>
        /// <returns>The model.</returns>
        public async Task<ModelInfo> GetModelAsync(string model, CancellationToken cancellationToken = default)
        {
            using var doc = await SendAsync(HttpMethod.Get, "/v1/models/" + EscapeModel(model), null, null, cancellationToken).ConfigureAwait(false);
            return ApiJson.ReadModel(doc.RootElement);
        }

        /// <summary>
        /// Downloads an output file into <paramref name="destination"/>, refusing non-http(s) URLs and files
        /// over <see cref="AbstraktClientOptions.MaxDownloadBytes"/>. Downloads bypass the API rate gate.
        /// </summary>
        /// <param name="url">The output URL.</param>
        /// <param name="destination">Where the bytes go.</param>
        /// <param name="cancellationToken">Cancels the download.</param>
        /// <returns>The number of bytes written.</returns>
        public Task<long> DownloadAsync(string url, Stream destination, CancellationToken cancellationToken = default) =>
            DownloadAsync(url, destination, allowPrivateHost: false, cancellationToken);

        /// <summary>
        /// Downloads an output file, as <see cref="DownloadAsync(string, Stream, CancellationToken)"/> does. A loopback,
        /// link-local or private-range host is refused unless the endpoint is on one of the same kind (a local
        /// sandbox) or <paramref name="allowPrivateHost"/> is set.
        /// </summary>
        /// <param name="url">The output URL.</param>
        /// <param name="destination">Where the bytes go.</param>
        /// <param name="allowPrivateHost">Allow any host, private ranges included.</param>
        /// <param name="cancellationToken">Cancels the download.</param>
        /// <returns>The number of bytes written.</returns>
        public async Task<long> DownloadAsync(string url, Stream destination, bool allowPrivateHost, CancellationToken cancellationToken = default)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            {
                throw new AbstraktApiException(ErrorCodes.BadResponse, "Refused to download an output URL that is not http or https: " + Shorten(url, 80));
            }

            var kind = await OutputHosts.KindOfAsync(uri).ConfigureAwait(false);
            if (kind != HostKind.Public && kind != _endpointKind && !allowPrivateHost)
            {
                var what = kind switch { HostKind.Loopback => "a loopback", HostKind.LinkLocal => "a link-local", _ => "a private-range" };
                throw new AbstraktApiException(ErrorCodes.BadResponse, $"Refused to download an output from {uri.Host}: {what} address, which a compromised service could point at. Pass -AllowPrivateOutputHost to allow it.");
            }

            var request = "GET " + uri.AbsolutePath;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                using var message = new HttpRequestMessage(HttpMethod.Get, uri);
                using var response = await _downloads.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new AbstraktApiException(ErrorCodes.Transport, $"The download failed with HTTP {(int)response.StatusCode}.", (int)response.StatusCode, request);
                }

                return await CopyCappedAsync(response, destination, _options.MaxDownloadBytes, () => new AbstraktApiException(ErrorCodes.BadResponse, $"The output is larger than the {_options.MaxDownloadBytes} byte limit.", (int)response.StatusCode, request), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransport(ex, cancellationToken))
            {
                throw TransportFault(ex, request, timedOut: !cancellationToken.IsCancellationRequested, mayHaveCreated: false);
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _downloads.Dispose();
            _api.Dispose();
        }

        private HttpClient NewHttpClient(HttpMessageHandler handler, bool disposeHandler)
        {
            var http = new HttpClient(handler, disposeHandler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            http.DefaultRequestHeaders.UserAgent.ParseAdd(_options.UserAgent);
            http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            return http;
        }

        private static string EscapeModel(string model)
        {
            if (string.IsNullOrWhiteSpace(model))
            {
                throw new ArgumentException("The model id is empty.", nameof(model));
            }

            // Provider paths keep their slashes (fal-ai/flux/schnell); each segment is escaped.
            return string.Join("/", model.Trim().Split('/').Select(Uri.EscapeDataString));
        }

        private static JobInfo ReadJobOrThrow(JsonElement root, string request)
        {
            try
            {
                return ApiJson.ReadJob(root);
            }
            catch (Exception ex) when (ex is AbstraktApiException or FormatException or OverflowException or InvalidOperationException)
            {
                // A 2xx body that is not a job: the outcome of a create is unknown, so it is retried with the same key.
                throw new AbstraktApiException(ErrorCodes.Transport, ex is AbstraktApiException ? ex.Message : "The service sent an unreadable job: " + ex.Message, 200, request, ex) { OutcomeUnknown = true };
            }
        }

        /// <summary>
        /// A run's body: plain JSON, or JSON with a local image streamed in as a data URI. Made afresh per attempt, as the
        /// attempt goes on the wire, with <paramref name="sync"/> as decided for that attempt.
        /// </summary>
        private static Func<HttpContent> RunBody(IReadOnlyDictionary<string, object?> input, Dictionary<string, object?> body, Func<bool> sync)
        {
            var image = input.FirstOrDefault(p => p.Value is ImageInput { Path: not null });
            var placeholder = "abstrakt-image-" + Guid.NewGuid().ToString("N");
            if (image.Key is not null)
            {
                body["input"] = input.ToDictionary(p => p.Key, p => p.Key == image.Key ? placeholder : p.Value, StringComparer.Ordinal);
            }

            return () =>
            {
                body["sync"] = sync();
                var json = JsonValues.ToUtf8(body);
                return image.Key is null
                    ? new ByteArrayContent(json) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } }
                    : new InlineImageContent(json, placeholder, (ImageInput)image.Value!);
            };
        }

        private async Task<JsonDocument> SendAsync(HttpMethod method, string pathAndQuery, Func<HttpContent>? body, string? idempotencyKey, CancellationToken cancellationToken, Action? sending = null)
        {
            // The attempt's timeout starts when the request goes on the wire (ApiRequest.OnTheWire), not in the rate-limit queue.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var request = new ApiRequest(method, _basePath, pathAndQuery, timeout, _options.RequestTimeout, sending, body);
            if (idempotencyKey is not null)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
            }

            try
            {
                HttpResponseMessage response;
                byte[] bytes;
                try
                {
                    response = await _api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                    Interlocked.Increment(ref _answers);
                    bytes = await ReadCappedAsync(response, request, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (request.SendingFailed is null && IsTransport(ex, cancellationToken))
                {
                    throw TransportFault(ex, request.Name, timedOut: !cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested, mayHaveCreated: method == HttpMethod.Post);
                }

                using (response)
                {
                    var status = (int)response.StatusCode;
                    var doc = TryParse(bytes);
                    if (response.IsSuccessStatusCode && doc is not null)
                    {
                        request.Finish(null);
                        return doc;
                    }

                    if (response.IsSuccessStatusCode)
                    {
                        throw new AbstraktApiException(ErrorCodes.Transport, $"The service answered HTTP {status} with a body that is not JSON: {Preview(bytes)}", status, request.Name)
                        {
                            OutcomeUnknown = method == HttpMethod.Post,
                        };
                    }

                    using (doc)
                    {
                        throw ReadFailure(response, status, doc, bytes, request.Name);
                    }
                }
            }
            catch (AbstraktApiException ex)
            {
                // Told after the answer is read, so a trace can name the error code the body carried.
                request.Finish(ex);
                throw;
            }
        }

        /// <summary>Copies a response body, failing with <paramref name="tooLarge"/> when it declares or passes <paramref name="limit"/> bytes.</summary>
        private static async Task<long> CopyCappedAsync(HttpResponseMessage response, Stream destination, long limit, Func<AbstraktApiException> tooLarge, CancellationToken cancellationToken)
        {
            if (response.Content.Headers.ContentLength > limit)
            {
                throw tooLarge();
            }

            using var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);

            // A pooled chunk: a fresh array per response was most of the engine's allocation per item.
            var chunk = ArrayPool<byte>.Shared.Rent(16384);
            try
            {
                long total = 0;
                int read;
                while ((read = await source.ReadAsync(chunk, 0, chunk.Length, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (total > limit)
                    {
                        throw tooLarge();
                    }

                    try
                    {
                        await destination.WriteAsync(chunk, 0, read, cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException ex)
                    {
                        // The caller's disk, not the network: never a transport fault to retry.
                        throw new LocalWriteException(ex);
                    }
                }

                return total;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }

        private async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, ApiRequest request, CancellationToken cancellationToken)
        {
            using var buffer = new MemoryStream();
            await CopyCappedAsync(response, buffer, _options.MaxResponseBytes, () => new AbstraktApiException(ErrorCodes.Transport, $"The response is larger than {_options.MaxResponseBytes} bytes.", (int)response.StatusCode, request.Name) { OutcomeUnknown = true }, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }

        private AbstraktApiException ReadFailure(HttpResponseMessage response, int status, JsonDocument? doc, byte[] bytes, string requestName)
        {
            string? code = null, message = null, details = null, jobId = null;
            double? retryAfterBody = null;
            if (doc is not null && doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                code = ApiJson.String(error, "code");
                message = ApiJson.String(error, "message");
                retryAfterBody = ApiJson.Number(error, "retry_after");
                details = error.TryGetProperty("details", out var d) && d.ValueKind == JsonValueKind.Object ? d.GetRawText() : null;
                jobId = ApiJson.String(doc.RootElement, "job_id");
            }

            var retryAfter = LongestHint(response, retryAfterBody);
            if (status == 429)
            {
                Gate.Pause(retryAfter ?? TimeSpan.FromSeconds(1));
            }

            if (code is null)
            {
                // No envelope: an HTML 502 page, an empty body, a proxy's text. A transport fault, with a preview.
                var what = bytes.Length == 0 ? "an empty body" : "a body that is not an abstrakt error: " + Preview(bytes);
                return new AbstraktApiException(ErrorCodes.Transport, $"The service answered HTTP {status} with {what}", status, requestName) { RetryAfter = retryAfter };
            }

            return new AbstraktApiException(code, message ?? code, status, requestName)
            {
                RetryAfter = retryAfter,
                Details = Redaction.Scrub(details),
                JobId = jobId,
            };
        }

        private TimeSpan? LongestHint(HttpResponseMessage response, double? retryAfterBody)
        {
            double? seconds = retryAfterBody;
            if (response.Headers.RetryAfter is { } header)
            {
                var fromHeader = header.Delta?.TotalSeconds ?? (header.Date - _options.Time.GetUtcNow())?.TotalSeconds;
                seconds = Max(seconds, fromHeader);
            }

            // X-RateLimit-Reset is not a hint here: the rate gate reads it from every answer. A hostile or broken
            // server may send 1e300: clamp before TimeSpan, which would overflow.
            return seconds is double s && s > 0 ? TimeSpan.FromSeconds(Math.Min(s, MaxServerDelay.TotalSeconds)) : null;
        }

        private static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

        private static JsonDocument? TryParse(byte[] bytes)
        {
            if (bytes.Length == 0)
            {
                return null;
            }

            try
            {
                return JsonDocument.Parse(bytes);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private static bool IsTransport(Exception ex, CancellationToken callerToken) =>
            !callerToken.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException;

        /// <summary>A request lost on the network; <paramref name="mayHaveCreated"/> when a lost answer may hide a job (a POST: never
        /// a GET or a DELETE, which are asked again as they are).</summary>
        private AbstraktApiException TransportFault(Exception ex, string requestName, bool timedOut, bool mayHaveCreated) =>
            new AbstraktApiException(
                ErrorCodes.Transport,
                timedOut && ex is OperationCanceledException
                    ? $"No answer from the service within {_options.RequestTimeout.TotalSeconds:0.#} s."
                    : "The connection to the service failed: " + Innermost(ex).Message,
                null,
                requestName,
                ex) { OutcomeUnknown = mayHaveCreated && !BeforeSending(ex) };

        /// <summary>A connection refused or a host not found: nothing was sent, so nothing can have been created.</summary>
        private static bool BeforeSending(Exception ex) =>
            Innermost(ex) is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostUnreachable };

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException is not null)
            {
                ex = ex.InnerException;
            }

            return ex;
        }

        private static string Preview(byte[] bytes)
        {
            var text = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 200));
            return "'" + Shorten(new string(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Trim(), 120) + "'";
        }

        private static string Shorten(string text, int max) => text.Length <= max ? text : text.Substring(0, max) + "…";
    }

    /// <summary>Writing a download to the caller's stream failed (a full disk): a local fault, never retried as a network one.</summary>
    internal sealed class LocalWriteException : Exception
    {
        public LocalWriteException(IOException inner)
            : base(inner.Message, inner)
        {
        }
    }
}
