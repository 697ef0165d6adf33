namespace AiFactory;

/// <summary>
/// <c>Select</c> for the code in every <c>AiFactory</c> namespace of the assemblies that reference this one (the
/// agent's: Host.Model, Host.Hardware, Host.Planning, Agent, and their tests): C# looks for extension methods in the enclosing
/// namespaces before it looks at a file's <c>using</c> directives, so <c>items.Select(f)</c> binds here rather than to
/// <see cref="System.Linq.Enumerable"/>. Everything else of LINQ is System.Linq's.
/// </summary>
/// <remarks>
/// Why: net9.0 native AOT (the agent's fallback publish) links the speed-optimised build of System.Linq. Its
/// <c>Enumerable.Select</c> calls a generic virtual method (<c>Iterator&lt;TSource&gt;.Select&lt;TResult&gt;</c>), and
/// the AOT compiler cannot know which override runs, so it compiles every iterator class for every pair of value
/// types that any <c>Select</c> in the program uses: 27,755 method bodies and 2,228 types, 4.6 MB of the 29 MB
/// executable (measured with <c>-p:IlcGenerateMapFile=true</c>), most of it never run but paged in around the code
/// that is, and rehydrated at start. This one is a plain iterator: no virtual generic method, one instantiation per
/// call site. The .NET 10 AOT compiler builds size-optimised LINQ by default (<c>UseSizeOptimizedLinq</c>), which
/// removes the cause, and tools/publish-aot.sh publishes net10.0 wherever its NativeAOT pack can be restored (it says
/// which it built); this file stays for the net9.0 fallback and can go when that fallback does.
/// It is public in the lowest assembly so that every assembly above it, and their tests, bind to this one
/// definition (internal copies per assembly collide where a test sees the internals of two).
/// </remarks>
public static class SelectWithoutGenericVirtuals
{
    /// <summary>Projects each element, lazily, as <see cref="System.Linq.Enumerable.Select{TSource, TResult}(IEnumerable{TSource}, Func{TSource, TResult})"/>.</summary>
    public static IEnumerable<TResult> Select<TSource, TResult>(this IEnumerable<TSource> source, Func<TSource, TResult> selector)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        return Iterate(source, selector);
    }

    private static IEnumerable<TResult> Iterate<TSource, TResult>(IEnumerable<TSource> source, Func<TSource, TResult> selector)
    {
        foreach (TSource item in source)
        {
            yield return selector(item);
        }
    }
}
