using System;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>The batch stopped because no item could succeed (bad key, no credits, unknown model, a bad journal).</summary>
    public sealed class BatchFatalException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What stopped the batch.</param>
        /// <param name="inner">The underlying failure.</param>
        public BatchFatalException(string message, Exception inner)
            : base(message, inner)
        {
        }

        /// <summary>The API failure behind it, if it came from the service.</summary>
        public AbstraktApiException? ApiError => InnerException as AbstraktApiException;
    }
}
