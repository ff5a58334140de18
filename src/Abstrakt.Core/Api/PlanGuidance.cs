namespace Abstrakt.Api
{
    /// <summary>
    /// What the service's public batching tutorial recommends per plan, keyed by what a client can see of the plan: the
    /// <c>X-RateLimit-Limit</c> header. Free (10 requests per minute): 2 at once; Pro (100): 10; Business (1000): 50.
    /// </summary>
    public static class PlanGuidance
    {
        /// <summary>The recommended number of requests in flight for a plan with this request limit.</summary>
        /// <param name="requestsPerWindow">The limit the service reported.</param>
        /// <returns>The concurrency, or null above the documented plans.</returns>
        public static int? ConcurrencyFor(int requestsPerWindow) => requestsPerWindow switch
        {
            <= 0 => null,
            <= 10 => 2,
            <= 100 => 10,
            <= 1000 => 50,
            _ => null,
        };
    }
}
