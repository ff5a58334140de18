using System;

namespace Abstrakt.Api
{
    /// <summary>The service's documented plans.</summary>
    public enum AbstraktPlan
    {
        /// <summary>10 requests per minute, 2 jobs at once.</summary>
        Free,

        /// <summary>100 requests per minute, 10 jobs at once.</summary>
        Pro,

        /// <summary>1000 requests per minute, 50 jobs at once.</summary>
        Business,
    }

    /// <summary>
    /// The documented facts of each plan (shared/abstrakt-api.md section 6). A client uses them only to pace its
    /// first requests before any rate-limit header has been seen, and to cap how many items run at once.
    /// </summary>
    public static class Plans
    {
        /// <summary>The plan's documented requests per minute.</summary>
        /// <param name="plan">The plan.</param>
        /// <returns>The limit.</returns>
        public static int RequestsPerMinute(AbstraktPlan plan) => plan switch
        {
            AbstraktPlan.Free => 10,
            AbstraktPlan.Pro => 100,
            AbstraktPlan.Business => 1000,
            _ => throw new ArgumentOutOfRangeException(nameof(plan), plan, "Unknown plan."),
        };

        /// <summary>The concurrency the documentation recommends for the plan.</summary>
        /// <param name="plan">The plan.</param>
        /// <returns>The most jobs to run at once.</returns>
        public static int Concurrency(AbstraktPlan plan) => plan switch
        {
            AbstraktPlan.Free => 2,
            AbstraktPlan.Pro => 10,
            AbstraktPlan.Business => 50,
            _ => throw new ArgumentOutOfRangeException(nameof(plan), plan, "Unknown plan."),
        };
    }
}
