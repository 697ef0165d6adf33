using System.CommandLine;

namespace AiFactory.Cli.Input;

/// <summary>
/// Refuses an empty value for a name the agent needs (a GPU, a lease id, a profile, an owner) as a usage error, as a
/// missing one is, instead of sending it and reporting the agent's INVALID_ARGUMENT as a refusal (exit 1).
/// </summary>
internal static class NonEmpty
{
    public static Argument<T> Validated<T>(Argument<T> argument)
    {
        argument.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault(t => string.IsNullOrWhiteSpace(t.Value)) is { } blank)
            {
                result.AddError($"<{argument.Name}>: invalid value \"{GlobalOptions.Quote(blank.Value)}\": must not be empty");
            }
        });
        return argument;
    }

    public static Option<T> Validated<T>(Option<T> option)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault(t => string.IsNullOrWhiteSpace(t.Value)) is { } blank)
            {
                result.AddError($"{option.Name}: invalid value \"{GlobalOptions.Quote(blank.Value)}\": must not be empty");
            }
        });
        return option;
    }
}
