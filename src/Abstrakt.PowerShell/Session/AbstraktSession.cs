using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Abstrakt.Api;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Session
{
    /// <summary>A connection: one shared client per endpoint, and the sandbox behind it when there is one.</summary>
    internal sealed class AbstraktConnection : IDisposable
    {
        public AbstraktConnection(AbstraktClient client, SandboxServer? sandbox, bool ownsSandbox)
        {
            Client = client;
            Sandbox = sandbox;
            OwnsSandbox = ownsSandbox;
        }

        public AbstraktClient Client { get; }
        public SandboxServer? Sandbox { get; }
        public bool OwnsSandbox { get; }
        public Uri Endpoint => Client.Options.Endpoint;

        public void Dispose()
        {
            Client.Dispose();
            if (OwnsSandbox)
            {
                Sandbox?.Dispose();
            }
        }
    }

    /// <summary>
    /// Per-runspace state: the connection, and the sandbox Start-AbstraktSandbox started. With no connection
    /// and no ABSTRAKT_API_KEY, the embedded sandbox is started once per session and used, with one warning.
    /// </summary>
    internal static class AbstraktSession
    {
        public const string KeyVariable = "ABSTRAKT_API_KEY";
        private static readonly ConcurrentDictionary<Guid, State> States = new ConcurrentDictionary<Guid, State>();

        private sealed class State
        {
            public AbstraktConnection? Connection;
            public SandboxServer? Sandbox;

            /// <summary>The endpoint of a Connect-Abstrakt that failed since the last connection was set: no fallback then.</summary>
            public Uri? FailedConnect;
        }

        private static State Current
        {
            get
            {
                var runspace = Runspace.DefaultRunspace;
                var id = runspace?.InstanceId ?? Guid.Empty;
                return States.GetOrAdd(id, _ =>
                {
                    if (runspace is not null)
                    {
                        runspace.StateChanged += (_, e) =>
                        {
                            if (e.RunspaceStateInfo.State is RunspaceState.Closed or RunspaceState.Broken && States.TryRemove(id, out var state))
                            {
                                state.Connection?.Dispose();
                                state.Sandbox?.Dispose();
                            }
                        };
                    }

                    return new State();
                });
            }
        }

        public static SandboxServer? Sandbox => Current.Sandbox;

        public static AbstraktConnection? Connection => Current.Connection;

        public static void SetSandbox(SandboxServer? sandbox)
        {
            var state = Current;
            if (state.Connection?.Sandbox is { } connected && connected == state.Sandbox && sandbox != connected)
            {
                SetConnection(null);
            }

            state.Sandbox?.Dispose();
            state.Sandbox = sandbox;
        }

        public static void SetConnection(AbstraktConnection? connection)
        {
            var state = Current;
            state.Connection?.Dispose();
            state.Connection = connection;
            state.FailedConnect = null;
        }

        /// <summary>
        /// A Connect-Abstrakt failed: the session is not connected, and the next command must not quietly use another
        /// endpoint (the built-in sandbox, or ABSTRAKT_API_KEY's service) in its place, as a script goes on past the
        /// failed connect (a user's try ran 84 items on the built-in sandbox so).
        /// </summary>
        /// <param name="endpoint">The endpoint the connect was for.</param>
        public static void ConnectFailed(Uri endpoint)
        {
            SetConnection(null);
            Current.FailedConnect = endpoint;
        }

        /// <summary>Builds a client for an endpoint: it learns the rate limit from the answers, seeded by the plan when given.</summary>
        public static AbstraktClient CreateClient(Uri endpoint, Secret? key, AbstraktPlan? plan) =>
            new AbstraktClient(new AbstraktClientOptions
            {
                Endpoint = endpoint,
                ApiKey = key,
                MaxConnections = 256,
                Plan = plan,
            });

        /// <summary>Connects to a sandbox as to any endpoint: the client gets its address and key, nothing else.</summary>
        public static AbstraktConnection ConnectToSandbox(SandboxServer sandbox, bool owns) =>
            new AbstraktConnection(CreateClient(sandbox.Uri, sandbox.ApiKey, null), sandbox, owns);

        /// <summary>The connection to use: the session's, else ABSTRAKT_API_KEY, else the embedded sandbox.</summary>
        public static AbstraktConnection Resolve(PSCmdlet cmdlet)
        {
            var state = Current;
            if (state.Connection is not null)
            {
                return state.Connection;
            }

            if (state.FailedConnect is { } failed)
            {
                var notConnected = $"Not connected: the last Connect-Abstrakt, to {failed}, failed.";
                cmdlet.ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(notConnected), ErrorIds.NotConnected, ErrorCategory.ConnectionError, failed)
                {
                    ErrorDetails = new ErrorDetails(notConnected + " Connect again, or run Disconnect-Abstrakt to use the built-in sandbox.")
                    {
                        RecommendedAction = "Run Connect-Abstrakt again, or Disconnect-Abstrakt to use the built-in sandbox (or $env:" + KeyVariable + ").",
                    },
                });
            }

            var key = Environment.GetEnvironmentVariable(KeyVariable);
            if (!string.IsNullOrWhiteSpace(key))
            {
                state.Connection = new AbstraktConnection(CreateClient(new Uri("https://api.abstrakt.one"), new Secret(key!), null), null, false);
                return state.Connection;
            }

            var sandbox = state.Sandbox ?? SandboxServer.Start(new SandboxOptions { LatencyScale = 0.25 });
            state.Sandbox = sandbox;
            cmdlet.WriteWarning(
                $"No connection and no {KeyVariable}: using the built-in sandbox at {sandbox.Uri} (synthetic outputs, no account). " +
                "To use the real service: Connect-Abstrakt -ApiKey (Read-Host -AsSecureString 'API key'), or set $env:ABSTRAKT_API_KEY.");
            state.Connection = ConnectToSandbox(sandbox, owns: false);
            return state.Connection;
        }
    }
}
