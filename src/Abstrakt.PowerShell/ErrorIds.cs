namespace Abstrakt.PowerShell
{
    /// <summary>One stable id per failure path; PowerShell appends ",Namespace.CmdletClass".</summary>
    internal static class ErrorIds
    {
        public const string ItemFailed = "AbstraktItemFailed";
        public const string BatchFatal = "AbstraktBatchFatal";
        public const string ImageNotFound = ItemFailed + ".ImageNotFound";
        public const string ImageTooLarge = ItemFailed + ".ImageTooLarge";
        public const string NotAnImage = ItemFailed + ".NotAnImage";
        public const string Unauthorized = "AbstraktUnauthorized";
        public const string JobNotCancellable = "AbstraktJobNotCancellable";
        public const string InvalidInput = "AbstraktInvalidInput";
        public const string WrongModelKind = "AbstraktWrongModelKind";
        public const string EmptyPrompt = "AbstraktEmptyPrompt";
        public const string NullInput = "AbstraktNullInput";
        public const string InvalidEndpoint = "AbstraktInvalidEndpoint";
        public const string NotConnected = "AbstraktNotConnected";
        public const string InputFileNotFound = "AbstraktInputFileNotFound";
        public const string InvalidOutputDirectory = "AbstraktInvalidOutputDirectory";
        public const string JournalExists = "AbstraktJournalExists";
        public const string JournalCorrupt = "AbstraktJournalCorrupt";
        public const string JournalDiffers = "AbstraktJournalDiffers";
        public const string JournalInUse = "AbstraktJournalInUse";
        public const string JournalUnusable = "AbstraktJournalUnusable";
        public const string StoreUnavailable = "AbstraktStoreUnavailable";
        public const string StoreInvalid = "AbstraktStoreInvalid";
        public const string BatchNotFound = "AbstraktBatchNotFound";
        public const string StoreConflict = "AbstraktStoreConflict";
        public const string ResumeNeedsJournal = "AbstraktResumeNeedsJournal";
        public const string SandboxPortUnavailable = "AbstraktSandboxPortUnavailable";
        public const string WebhookSecretMissing = "AbstraktWebhookSecretMissing";
        public const string WebhookListenerFailed = "AbstraktWebhookListenerFailed";
        public const string WebhookListenerNeedsUrl = "AbstraktWebhookListenerNeedsUrl";
        public const string WebhookSignatureInvalid = "AbstraktWebhookSignatureInvalid";
        public const string WebhookMalformed = "AbstraktWebhookMalformed";
    }
}
