namespace Abstrakt; /// <summary>Placeholder removed once the client lands.</summary>
internal static class Placeholder { }
