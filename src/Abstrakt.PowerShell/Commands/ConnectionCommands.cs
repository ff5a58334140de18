using System;
using System.Management.Automation;
using System.Security;
using System.Threading;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Output;
using Abstrakt.PowerShell.Session;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Connects the session to the abstrakt service, another endpoint, or the local sandbox.</para>
    /// </summary>
    [Cmdlet(VerbsCommunications.Connect, "Abstrakt", DefaultParameterSetName = "Service")]
    [OutputType(typeof(AbstraktConnectionInfo))]
    public sealed class ConnectAbstraktCommand : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();

        /// <summary>The API key, as a SecureString, a PSCredential (its password) or plain text; defaults to $env:ABSTRAKT_API_KEY.</summary>
        [Parameter(ParameterSetName = "Service", Position = 0)]
        [SecretTransformation]
        public SecureString? ApiKey { get; set; }

        /// <summary>The service address; https, or http on loopback only.</summary>
        [Parameter(ParameterSetName = "Service")]
        public Uri Endpoint { get; set; } = new Uri("https://api.abstrakt.one");

        /// <summary>Your plan: its documented rate lets the first requests go before the service's rate-limit headers have been seen.</summary>
        [Parameter(ParameterSetName = "Service")]
        public AbstraktPlan? Tier { get; set; }

        /// <summary>Connect without checking the key with a request first.</summary>
        [Parameter(ParameterSetName = "Service")]
        public SwitchParameter SkipCheck { get; set; }

        /// <summary>Connect to the session's sandbox (started with default settings if none runs).</summary>
        [Parameter(ParameterSetName = "Sandbox", Mandatory = true)]
        public SwitchParameter Sandbox { get; set; }

        /// <summary>Return the connection.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            if (Sandbox)
            {
                var sandbox = AbstraktSession.Sandbox ?? SandboxServer.Start();
                if (AbstraktSession.Sandbox is null)
                {
                    AbstraktSession.SetSandbox(sandbox);
                }

                Connected(AbstraktSession.ConnectToSandbox(sandbox, owns: false));
                return;
            }

            try
            {
                AbstraktClient.EnsureSafeEndpoint(Endpoint);
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(ErrorRecords.Argument(ex, ErrorIds.InvalidEndpoint, ErrorCategory.InvalidArgument, Endpoint));
            }

            var key = ApiKey is null ? Environment.GetEnvironmentVariable(AbstraktSession.KeyVariable) : SecureText.Reveal(ApiKey);
            if (string.IsNullOrWhiteSpace(key))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"No API key: pass -ApiKey (Read-Host -AsSecureString) or set $env:{AbstraktSession.KeyVariable}."),
                    ErrorIds.Unauthorized,
                    ErrorCategory.AuthenticationError,
                    null));
            }

            var connection = new AbstraktConnection(AbstraktSession.CreateClient(Endpoint, new Secret(key!), Tier), null, false);
            if (!SkipCheck)
            {
                Check(connection);
            }

            Connected(connection);
        }

        /// <summary>Cancels the key check (Ctrl+C).</summary>
        protected override void StopProcessing() => _stop.Cancel();

        /// <inheritdoc/>
        public void Dispose()
        {
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>One cheap request (the first model of the catalogue), so a wrong key or endpoint fails here, not at the first batch.</summary>
        private void Check(AbstraktConnection connection)
        {
            try
            {
                // Retried as any call is (a cut connection, a 5xx): one passing fault must not fail the connect.
                RetriedCall.Run(this, token => ConnectionCheck.RunAsync(connection.Client, token), connection.Client.Options.Time, "Key check", _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or AggregateException)
            {
                if (ex is AggregateException { InnerException: AbstraktApiException { StatusCode: not null } passing } && FailureClassifier.Classify(passing) == ErrorKind.Retryable)
                {
                    // The service answered, busy or flaky (429, 5xx): that says nothing about the key. Connect, and say the check was not made.
                    WriteWarning($"Could not check the key against {Endpoint} just now ({passing.Code}: {passing.Message}); connected without checking.");
                    return;
                }

                connection.Dispose();
                AbstraktSession.ConnectFailed(Endpoint);
                if (ex is AggregateException { InnerException: AbstraktApiException api })
                {
                    ThrowTerminatingError(new ErrorRecord(api, "Abstrakt" + ApiErrors.IdFor(api.Code), ApiErrors.CategoryFor(api), Endpoint)
                    {
                        ErrorDetails = new ErrorDetails($"The key check against {Endpoint} failed ({api.Code}): {api.Message}")
                        {
                            RecommendedAction = api.Code == ErrorCodes.Unauthorized
                                ? $"Check the key (its last four characters: {connection.Client.Options.ApiKey?.Hint}), or use -SkipCheck to connect without checking."
                                : "Check -Endpoint and the network, or use -SkipCheck to connect without checking.",
                        },
                    });
                }

                throw;
            }

            WriteVerbose($"The key was accepted by {Endpoint}.");
        }

        private void Connected(AbstraktConnection connection)
        {
            AbstraktSession.SetConnection(connection);
            WriteVerbose($"Connected to {connection.Endpoint}" + (connection.Client.Options.ApiKey is { } key ? $" with the key ending {key.Hint}." : "."));
            if (PassThru)
            {
                WriteObject(new AbstraktConnectionInfo(connection));
            }
        }
    }

    /// <summary>
    /// <para type="synopsis">Forgets the session's connection.</para>
    /// </summary>
    [Cmdlet(VerbsCommunications.Disconnect, "Abstrakt")]
    [OutputType(typeof(void))]
    public sealed class DisconnectAbstraktCommand : PSCmdlet
    {
        /// <inheritdoc/>
        protected override void EndProcessing() => AbstraktSession.SetConnection(null);
    }
}
