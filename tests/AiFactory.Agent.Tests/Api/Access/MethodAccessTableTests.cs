using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using AiFactory.Agent.Api.Access;
using Google.Protobuf.Reflection;

namespace AiFactory.Agent.Tests.Api.Access;

/// <summary>
/// The access table against the wire contract: every method of every service in proto/ (the generated descriptors in
/// AiFactory.Contracts) is classified, and the table names nothing the contract does not have. A method added to a
/// .proto file fails here until someone decides whether it changes the node.
/// </summary>
public sealed class MethodAccessTableTests
{
    [Fact]
    public void Every_method_of_every_service_in_the_contract_is_classified_and_nothing_else_is()
    {
        HashSet<string> contract = [.. ContractMethods()];

        Assert.Contains("/grpc.health.v1.Health/Check", contract);
        Assert.Contains("/aifactory.agent.v1.Leases/Lease", contract);
        Assert.Empty(contract.Except(MethodAccessTable.Methods.Keys).Order(StringComparer.Ordinal));
        Assert.Empty(MethodAccessTable.Methods.Keys.Except(contract).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("/aifactory.agent.v1.Profile/ApplyProfile")]
    [InlineData("/aifactory.agent.v1.Leases/Lease")]
    [InlineData("/aifactory.agent.v1.Leases/Release")]
    [InlineData("/aifactory.agent.v1.Leases/AttachLease")]
    [InlineData("/aifactory.agent.v1.Gpu/ApplyMig")]
    [InlineData("/aifactory.agent.v1.Gpu/SetMigMode")]
    public void A_method_that_changes_the_node_is_classified_so(string method) =>
        Assert.Equal(MethodAccess.ChangesNode, MethodAccessTable.Methods[method]);

    /// <summary>The full names of the methods of every file descriptor generated from proto/.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The tests run on the JIT, untrimmed: every generated type is there.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The tests run on the JIT, untrimmed: every generated type is there.")]
    private static List<string> ContractMethods()
    {
        Assembly contracts = typeof(AiFactory.Contracts.Agent.V1.Lease).Assembly;
        var files = new List<FileDescriptor>();
        foreach (Type type in contracts.GetTypes())
        {
            // protoc writes one static class per .proto file, holding its FileDescriptor.
            if (type.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static) is { } property && property.PropertyType == typeof(FileDescriptor))
            {
                files.Add((FileDescriptor)property.GetValue(null)!);
            }
        }

        Assert.True(files.Count >= 7, $"found only {files.Count} proto files in {contracts.GetName().Name}");
        return [.. files.SelectMany(f => f.Services).SelectMany(s => s.Methods).Select(m => $"/{m.Service.FullName}/{m.Name}")];
    }
}
