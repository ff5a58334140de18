using System.Management.Automation;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Output;
using Abstrakt.Store;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>The cmdlets that work on a shared batch from outside its runners: -Store and -BatchName, and their errors.</summary>
    public abstract class StoreCmdletBase : PSCmdlet
    {
        /// <summary>The PostgreSQL batch store: an Npgsql connection string or a postgres:// URL.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Store { get; set; } = string.Empty;

        /// <summary>The shared batch's name.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string BatchName { get; set; } = string.Empty;

        /// <summary>Connects to the batch; a store that cannot be used is a terminating error (never showing the password).</summary>
        /// <returns>The batch.</returns>
        private protected SharedBatch OpenBatch()
        {
            try
            {
                return SharedBatch.Open(Store, BatchName);
            }
            catch (JournalException ex)
            {
                ThrowTerminatingError(StoreError(ex));
                throw;
            }
        }

        /// <summary>The batch's status; a batch that does not exist is a terminating AbstraktBatchNotFound.</summary>
        /// <param name="batch">The batch.</param>
        /// <returns>The status.</returns>
        private protected AbstraktBatchInfo StatusOf(SharedBatch batch)
        {
            var status = batch.GetStatus();
            if (status is null)
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ItemNotFoundException($"There is no batch '{BatchName}' in {batch.Description}."),
                    ErrorIds.BatchNotFound,
                    ErrorCategory.ObjectNotFound,
                    BatchName));
            }

            return new AbstraktBatchInfo(status!);
        }

        /// <summary>A store failure as an error record: StoreInvalid, StoreUnavailable or JournalDiffers (a batch of another model).</summary>
        /// <param name="ex">The failure.</param>
        /// <returns>The record, targeting the batch's name.</returns>
        private protected ErrorRecord StoreError(JournalException ex) => ex.ErrorId switch
        {
            "StoreInvalid" => new ErrorRecord(ex, ErrorIds.StoreInvalid, ErrorCategory.InvalidArgument, BatchName),
            "JournalDiffers" => new ErrorRecord(ex, ErrorIds.JournalDiffers, ErrorCategory.InvalidData, BatchName),
            _ => new ErrorRecord(ex, ErrorIds.StoreUnavailable, ErrorCategory.ConnectionError, BatchName),
        };
    }
}
