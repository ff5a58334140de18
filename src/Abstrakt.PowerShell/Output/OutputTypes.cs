using System;
using System.Linq;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Output
{
    /// <summary>One finished batch item, as Start-AbstraktBatch and Invoke-AbstraktImage emit it.</summary>
    public sealed class AbstraktResult
    {
        internal AbstraktResult(ItemCompleted e)
        {
            Index = e.Item.Index;
            Id = e.Item.Id;
            Prompt = e.Item.Prompt;
            Model = e.Model;
            Status = e.FromJournal ? "Completed (journal)" : "Completed";
            JobId = e.JobId;
            Urls = e.Urls.ToArray();
            Files = e.Files.ToArray();
            Attempts = e.Attempts;
            Duration = e.Duration;
            CreditsUsed = e.CreditsUsed;
        }

        /// <summary>A job that a webhook delivered (ConvertFrom-AbstraktWebhook): no batch position or prompt.</summary>
        internal AbstraktResult(JobInfo job)
        {
            Id = job.JobId;
            Prompt = string.Empty;
            Model = job.ModelId ?? string.Empty;
            Status = "Completed";
            JobId = job.JobId;
            Urls = job.Outputs.Select(o => o.Url).ToArray();
            Files = Array.Empty<string>();
            Duration = job.Duration ?? TimeSpan.Zero;
            CreditsUsed = job.CreditsUsed ?? 0;
        }

        /// <summary>The 1-based position in the input.</summary>
        public long Index { get; }

        /// <summary>The item's stable id.</summary>
        public string Id { get; }

        /// <summary>The prompt.</summary>
        public string Prompt { get; }

        /// <summary>The model that ran.</summary>
        public string Model { get; }

        /// <summary>Completed, or "Completed (journal)" when resumed from an earlier run.</summary>
        public string Status { get; }

        /// <summary>The job id.</summary>
        public string JobId { get; }

        /// <summary>Output URLs.</summary>
        public string[] Urls { get; }

        /// <summary>Downloaded files.</summary>
        public string[] Files { get; }

        /// <summary>Attempts it took.</summary>
        public int Attempts { get; }

        /// <summary>Time from first attempt to completion.</summary>
        public TimeSpan Duration { get; }

        /// <summary>Credits charged.</summary>
        public int CreditsUsed { get; }
    }

    /// <summary>A job, as the job cmdlets emit it; pipes into Get-, Wait- and Stop-AbstraktJob by JobId.</summary>
    public sealed class AbstraktJob
    {
        internal AbstraktJob(JobInfo job)
        {
            JobId = job.JobId;
            Status = job.Status.ToString();
            Model = job.ModelId;
            Urls = job.Outputs.Select(o => o.Url).ToArray();
            CreditsUsed = job.CreditsUsed;
            ErrorCode = job.ErrorCode;
            ErrorMessage = job.ErrorMessage;
        }

        /// <summary>The job id.</summary>
        public string JobId { get; }

        /// <summary>Pending, Processing, Completed, Failed or Cancelled.</summary>
        public string Status { get; }

        /// <summary>The model.</summary>
        public string? Model { get; }

        /// <summary>Output URLs, once completed.</summary>
        public string[] Urls { get; }

        /// <summary>Credits charged.</summary>
        public int? CreditsUsed { get; }

        /// <summary>The error code of a failed job.</summary>
        public string? ErrorCode { get; }

        /// <summary>The error message of a failed job.</summary>
        public string? ErrorMessage { get; }
    }

    /// <summary>A model from the catalogue.</summary>
    public sealed class AbstraktModel
    {
        internal AbstraktModel(ModelInfo model)
        {
            Id = model.Id;
            Name = model.Name;
            Category = model.Category;
            Credits = model.Credits;
            Description = model.Description;
            InputSchema = model.InputSchema;
        }

        /// <summary>The model id, for -Model.</summary>
        public string Id { get; }

        /// <summary>The display name.</summary>
        public string? Name { get; }

        /// <summary>image, video or audio.</summary>
        public string? Category { get; }

        /// <summary>Credits per output.</summary>
        public int Credits { get; }

        /// <summary>What it does.</summary>
        public string? Description { get; }

        /// <summary>The input JSON Schema (with -Id).</summary>
        public string? InputSchema { get; }
    }

    /// <summary>A running sandbox. The key and secret are SecureStrings, so they never print.</summary>
    public sealed class AbstraktSandbox
    {
        internal AbstraktSandbox(SandboxServer sandbox)
        {
            Uri = sandbox.Uri;
            ApiKey = SecureText.From(sandbox.ApiKey.Reveal());
            WebhookSecret = SecureText.From(sandbox.WebhookSecret.Reveal());
            Tier = sandbox.Options.Tier.ToString();
        }

        /// <summary>The base address, for Connect-Abstrakt -Endpoint.</summary>
        public Uri Uri { get; }

        /// <summary>The sk_test_ key it issued, for Connect-Abstrakt -ApiKey.</summary>
        public System.Security.SecureString ApiKey { get; }

        /// <summary>The secret its webhooks are signed with.</summary>
        public System.Security.SecureString WebhookSecret { get; }

        /// <summary>The plan.</summary>
        public string Tier { get; }
    }
}
