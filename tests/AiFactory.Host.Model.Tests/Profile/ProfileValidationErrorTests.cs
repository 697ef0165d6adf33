using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Model.Tests.Profile;

public sealed class ProfileValidationErrorTests
{
    [Fact]
    public void An_error_prints_as_field_colon_reason()
    {
        var error = new ProfileValidationError("hugepages[0].size", "\"3M\" is not a hugepage size (2M, 1G)");

        Assert.Equal("hugepages[0].size: \"3M\" is not a hugepage size (2M, 1G)", error.ToString());
    }

    [Fact]
    public void An_error_is_one_line_whatever_control_characters_the_profile_gave_its_field_or_value()
    {
        var error = new ProfileValidationError("a\nb", "unknown key (line 2); \"x\ty\r\u0085\u007f\" was given");

        Assert.Equal("a\\x0ab: unknown key (line 2); \"x\\x09y\\x0d\\x85\\x7f\" was given", error.ToString());
    }

    [Fact]
    public void An_error_is_from_the_profile_unless_marked_as_from_unknown_lease_holds()
    {
        Assert.False(new ProfileValidationError("cpus", "x").HoldsUnknown);
        Assert.True(new ProfileValidationError("cpus", "x") { HoldsUnknown = true }.HoldsUnknown);
    }
}
