using System;
using System.Management.Automation;
using System.Security;
using Abstrakt.Api;
using Abstrakt.PowerShell.Session;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Connects the session to the abstrakt service, another endpoint, or the local sandbox.</para>
    /// </summary>
    [Cmdlet(VerbsCommunications.Connect, "Abstrakt", DefaultParameterSetName = "Service")]
    [OutputType(typeof(void))]
    public sealed class ConnectAbstraktCommand : PSCmdlet
    {
        /// <summary>The API key; defaults to $env:ABSTRAKT_API_KEY.</summary>
        [Parameter(ParameterSetName = "Service", Position = 0)]
        public SecureString? ApiKey { get; set; }

        /// <summary>The service address; https, or http on loopback only.</summary>
        [Parameter(ParameterSetName = "Service")]
        public Uri Endpoint { get; set; } = new Uri("https://api.abstrakt.one");

        /// <summary>Your plan: its documented rate lets the first requests go before the service's rate-limit headers have been seen.</summary>
        [Parameter(ParameterSetName = "Service")]
        public AbstraktPlan? Tier { get; set; }

        /// <summary>Connect to the session's sandbox (started with default settings if none runs).</summary>
        [Parameter(ParameterSetName = "Sandbox", Mandatory = true)]
        public SwitchParameter Sandbox { get; set; }

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

                AbstraktSession.SetConnection(AbstraktSession.ConnectToSandbox(sandbox, owns: false));
                WriteVerbose($"Connected to the sandbox at {sandbox.Uri}.");
                return;
            }

            try
            {
                AbstraktClient.EnsureSafeEndpoint(Endpoint);
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.InvalidEndpoint, ErrorCategory.InvalidArgument, Endpoint));
            }

            var key = ApiKey is null ? Environment.GetEnvironmentVariable(AbstraktSession.KeyVariable) : SecureText.Reveal(ApiKey);
            if (string.IsNullOrWhiteSpace(key))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"No API key: pass -ApiKey (Read-Host -AsSecureString) or set ${AbstraktSession.KeyVariable}."),
                    ErrorIds.Unauthorized,
                    ErrorCategory.AuthenticationError,
                    null));
            }

            var secret = new Secret(key!);
            AbstraktSession.SetConnection(new AbstraktConnection(AbstraktSession.CreateClient(Endpoint, secret, Tier), null, false));
            WriteVerbose($"Connected to {Endpoint} with key {secret.Hint}.");
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
