using Abstrakt.Api;

namespace Abstrakt.Core.Tests;

public class PlanGuidanceTests
{
    [Theory]
    [InlineData(10, 2)]
    [InlineData(100, 10)]
    [InlineData(1000, 50)]
    [InlineData(5000, null)]
    [InlineData(0, null)]
    public void ConcurrencyFor_ThePlansRequestLimit_IsTheBatchGuidesConcurrency(int limit, int? expected)
    {
        Assert.Equal(expected, PlanGuidance.ConcurrencyFor(limit));
    }
}
