using System.CommandLine;
using System.Globalization;

namespace AiFactory.Cli.Input;

/// <summary>
/// An option that takes a count (<c>--gpus</c>, <c>--vfs</c>, <c>--vcpus</c>). Parsed here rather than by the option's
/// own conversion, whose error for "-1" names the .NET type ("as expected type 'System.UInt32'") and not the range.
/// </summary>
internal static class WholeNumberOption
{
    public static Option<uint> Create(string name, string description, bool required = false) => new(name)
    {
        Description = description,
        Required = required,
        CustomParser = result =>
        {
            if (result.Tokens.Count == 0)
            {
                return 0;
            }

            string token = result.Tokens[^1].Value;
            if (uint.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out uint value))
            {
                return value;
            }

            result.AddError(Invalid(name, token));
            return 0;
        },
    };

    /// <summary>The usage error for <paramref name="token"/>, as the agent words a bad whole number in its settings.</summary>
    internal static string Invalid(string name, string token) =>
        $"{name}: invalid value \"{GlobalOptions.Quote(token)}\": must be a whole number from 0 to {uint.MaxValue.ToString(CultureInfo.InvariantCulture)}";
}
