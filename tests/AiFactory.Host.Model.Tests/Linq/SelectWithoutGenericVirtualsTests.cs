namespace AiFactory.Host.Model.Tests.Linq;

/// <summary>
/// Code in AiFactory namespaces binds <c>Select</c> to <see cref="SelectWithoutGenericVirtuals"/> (why: its remarks),
/// so it must behave as System.Linq's does where the agent relies on it.
/// </summary>
public sealed class SelectWithoutGenericVirtualsTests
{
    [Fact]
    public void Select_in_an_AiFactory_namespace_binds_to_the_plain_iterator_not_to_System_Linq()
    {
        IEnumerable<int> projected = new List<string> { "a", "bb" }.Select(s => s.Length);

        Assert.DoesNotContain("System.Linq", projected.GetType().FullName, StringComparison.Ordinal);
        Assert.Equal([1, 2], projected.ToArray());
    }

    [Fact]
    public void It_is_lazy_and_projects_again_on_every_enumeration_as_Enumerable_Select_does()
    {
        int calls = 0;
        var source = new List<int> { 1, 2, 3 };
        IEnumerable<int> doubled = source.Select(x =>
        {
            calls++;
            return x * 2;
        });

        Assert.Equal(0, calls);
        source.Add(4);
        Assert.Equal([2, 4, 6, 8], doubled.ToList());
        Assert.Equal([2, 4, 6, 8], [.. doubled]);
        Assert.Equal(8, calls);
    }

    [Fact]
    public void A_null_source_or_selector_is_refused_at_the_call_not_at_enumeration()
    {
        IEnumerable<int>? none = null;

        Assert.Throws<ArgumentNullException>("source", () => none!.Select(x => x));
        Assert.Throws<ArgumentNullException>("selector", () => new[] { 1 }.Select((Func<int, int>)null!));
    }

    [Fact]
    public void Value_tuples_and_structs_project_like_any_other_type()
    {
        (string Name, int Id)[] pairs = [.. new[] { 3, 1 }.Select(i => ("cpu" + i, i))];

        Assert.Equal([("cpu3", 3), ("cpu1", 1)], pairs);
        Assert.Equal([1, 3], pairs.Select(p => p.Id).Order());
    }
}
