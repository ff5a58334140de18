using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Linq;
using System.Management.Automation;
using Abstrakt.Json;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Output
{
    /// <summary>How a batch item ended.</summary>
    public enum AbstraktStatus
    {
        /// <summary>It ran and its outputs are ready.</summary>
        Completed,

        /// <summary>It failed (the error stream has why).</summary>
        Failed,

        /// <summary>It was cancelled.</summary>
        Cancelled,

        /// <summary>It was submitted and not waited for (a webhook receives it).</summary>
        Submitted,
    }

    /// <summary>A list of URLs or files: a list in PowerShell and JSON, the items joined by "; " in Export-Csv.</summary>
    public sealed class AbstraktList : ReadOnlyCollection<string>
    {
        internal AbstraktList(IEnumerable<string> items)
            : base(items.ToList())
        {
        }

        /// <summary>The items joined by "; ", so Export-Csv writes them rather than the type name.</summary>
        /// <returns>The joined items.</returns>
        public override string ToString() => string.Join("; ", this);
    }

    /// <summary>One finished batch item, as Start-AbstraktBatch and Invoke-AbstraktImage emit it. Flat, so it survives Export-Csv and ConvertTo-Json.</summary>
    public sealed class AbstraktResult
    {
        internal AbstraktResult(ItemCompleted e)
            : this(e.JobId, e.Model, e.Urls, e.CreditsUsed)
        {
            Index = e.Item.Index;
            Id = e.Item.Id;
            Prompt = e.Item.Prompt;
            FromJournal = e.FromJournal;
            InputObject = e.Item.Source;
            SourcePath = e.Item.Image?.Path ?? e.Item.Image?.Url;
            Files = new AbstraktList(e.Files);
            Attempts = e.Attempts;
            DurationSec = Math.Round(e.Duration.TotalSeconds, 3);
        }

        /// <summary>A job that a webhook delivered (ConvertFrom-AbstraktWebhook): no batch position or prompt.</summary>
        internal AbstraktResult(JobInfo job)
            : this(job.JobId, job.ModelId ?? string.Empty, job.Outputs.Select(o => o.Url), job.CreditsUsed ?? 0)
        {
            Id = job.JobId;
            DurationSec = Math.Round((job.Duration ?? TimeSpan.Zero).TotalSeconds, 3);
        }

        private AbstraktResult(string jobId, string model, IEnumerable<string> urls, int credits)
        {
            JobId = jobId;
            Model = model;
            Urls = new AbstraktList(urls);
            CreditsUsed = credits;
        }

        /// <summary>The 1-based position in the input.</summary>
        public long Index { get; }

        /// <summary>The item's id: the one the input gave (an Id or Name column), kept across re-runs; else one derived from position and content.</summary>
        public string Id { get; } = string.Empty;

        /// <summary>Completed (only completed items are results; failures go to the error stream).</summary>
        public AbstraktStatus Status { get; } = AbstraktStatus.Completed;

        /// <summary>True when the result was read from the journal of an earlier run (-Resume) rather than run now.</summary>
        public bool FromJournal { get; }

        /// <summary>The prompt (the text, for speech models).</summary>
        public string Prompt { get; } = string.Empty;

        /// <summary>The source image an image model worked on: the local file's full path, or its URL; null for a prompt-only item.</summary>
        public string? SourcePath { get; }

        /// <summary>The model that ran.</summary>
        public string Model { get; }

        /// <summary>The first output URL.</summary>
        public string? Url => Urls.FirstOrDefault();

        /// <summary>The first downloaded file.</summary>
        public string? File => Files.FirstOrDefault();

        /// <summary>The job id.</summary>
        public string JobId { get; }

        /// <summary>Every output URL.</summary>
        public AbstraktList Urls { get; }

        /// <summary>Every downloaded file.</summary>
        public AbstraktList Files { get; } = new AbstraktList(Array.Empty<string>());

        /// <summary>Attempts it took (0 when read from the journal).</summary>
        public int Attempts { get; }

        /// <summary>Seconds from first attempt to completion (0 when read from the journal).</summary>
        public double DurationSec { get; }

        /// <summary>Credits charged.</summary>
        public int CreditsUsed { get; }

        /// <summary>The input the item came from (a prompt string or a row), to pipe back in.</summary>
        public object? InputObject { get; }
    }

    /// <summary>What a batch would cost at catalogue prices (Measure-AbstraktCost; -WhatIf prints the same numbers).</summary>
    public sealed class AbstraktCostEstimate
    {
        internal AbstraktCostEstimate(IReadOnlyList<AbstraktModelCost> byModel)
        {
            ByModel = byModel;
            Items = byModel.Sum(m => m.Items);
            Outputs = byModel.Sum(m => m.Outputs);
            Credits = byModel.Sum(m => m.Credits ?? 0);
        }

        /// <summary>Items counted.</summary>
        public long Items { get; }

        /// <summary>Outputs they ask for (images per prompt).</summary>
        public long Outputs { get; }

        /// <summary>Credits at catalogue prices, for the models whose price is known.</summary>
        public long Credits { get; }

        /// <summary>The breakdown by model.</summary>
        public IReadOnlyList<AbstraktModelCost> ByModel { get; }
    }

    /// <summary>One model's share of a cost estimate.</summary>
    public sealed class AbstraktModelCost
    {
        internal AbstraktModelCost(string model, long items, long outputs, int? creditsPerOutput)
        {
            Model = model;
            Items = items;
            Outputs = outputs;
            CreditsPerOutput = creditsPerOutput;
            Credits = creditsPerOutput * outputs;
        }

        /// <summary>The model.</summary>
        public string Model { get; }

        /// <summary>Items on it.</summary>
        public long Items { get; }

        /// <summary>Outputs they ask for.</summary>
        public long Outputs { get; }

        /// <summary>The catalogue price per output, or null when the model is not in the catalogue the module knows.</summary>
        public int? CreditsPerOutput { get; }

        /// <summary>Outputs times price, or null when the price is unknown.</summary>
        public long? Credits { get; }

        /// <summary>"flux-dev 2 items, 3 outputs, 9 credits": what a list of them (the estimate's ByModel) shows.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => CostEstimate.Line(this);
    }

    /// <summary>A job, as the job cmdlets emit it; pipes into Get-, Wait- and Stop-AbstraktJob by JobId.</summary>
    public sealed class AbstraktJob
    {
        internal AbstraktJob(JobInfo job, IEnumerable<string>? files = null)
        {
            JobId = job.JobId;
            Status = job.Status.ToString();
            Model = job.ModelId;
            Urls = new AbstraktList(job.Outputs.Select(o => o.Url));
            Files = new AbstraktList(files ?? Array.Empty<string>());
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
        public AbstraktList Urls { get; }

        /// <summary>The downloaded outputs (with -OutputDirectory).</summary>
        public AbstraktList Files { get; }

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
            InputSchema = model.InputSchema is null ? null : ToPSObject(JsonValues.Parse(model.InputSchema));
            InputFields = model.InputSchema is not null && JsonValues.Parse(model.InputSchema) is IDictionary<string, object?> schema && schema.TryGetValue("properties", out var p) && p is IDictionary<string, object?> properties
                ? properties.Keys.ToArray()
                : Array.Empty<string>();
            ImageField = Abstrakt.Api.ImageField.From(model.InputSchema);
        }

        /// <summary>The names of the model's inputs (from its input schema, when the catalogue gives it).</summary>
        public string[] InputFields { get; }

        /// <summary>The input a source image goes in (image_url, image, ...), for image-input models; null for the others.</summary>
        public string? ImageField { get; }

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

        /// <summary>The input JSON Schema as an object (with -Id): $m.InputSchema.properties.prompt.type.</summary>
        public object? InputSchema { get; }

        private static object? ToPSObject(object? value)
        {
            switch (value)
            {
                case IDictionary<string, object?> map:
                    var result = new PSObject();
                    foreach (var pair in map)
                    {
                        result.Properties.Add(new PSNoteProperty(pair.Key, ToPSObject(pair.Value)));
                    }

                    return result;
                case IList<object?> list:
                    return list.Select(ToPSObject).ToArray();
                default:
                    return value;
            }
        }
    }

    /// <summary>The session's connection (Connect-Abstrakt -PassThru, Get-AbstraktConnection). Shows the key's last four characters only.</summary>
    public sealed class AbstraktConnectionInfo
    {
        internal AbstraktConnectionInfo(Abstrakt.PowerShell.Session.AbstraktConnection connection)
        {
            Endpoint = connection.Endpoint;
            KeyHint = connection.Client.Options.ApiKey?.Hint;
            IsSandbox = connection.Sandbox is not null;
        }

        /// <summary>The service address.</summary>
        public Uri Endpoint { get; }

        /// <summary>The key's last four characters, as ****abcd.</summary>
        public string? KeyHint { get; }

        /// <summary>True when connected to the local sandbox.</summary>
        public bool IsSandbox { get; }
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
