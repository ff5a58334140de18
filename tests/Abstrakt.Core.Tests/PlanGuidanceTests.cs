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

    [Theory]
    [InlineData("sk_test_abcdefgh1234", "****1234")]
    [InlineData("short_key", "****")]
    public void SecretHint_ShowsOnlyTheLastFourCharacters(string key, string hint)
    {
        Assert.Equal(hint, new Secret(key).Hint);
        Assert.Equal(hint, new Secret(key).ToString());
    }
}
