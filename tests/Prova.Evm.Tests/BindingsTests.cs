using System.Text.Json;
using Prova.Evm.Abi;
using Prova.Evm.Contracts;

namespace Prova.Evm.Tests;

public class BindingsTests
{
    private static string ContractsOut()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "contracts", "out");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("contracts/out not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Every_artifact_in_contracts_out_has_a_generated_binding_with_its_exact_abi()
    {
        var files = Directory.GetFiles(ContractsOut(), "*.json");
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            string name = Path.GetFileNameWithoutExtension(file);
            var type = typeof(ContractBinding).Assembly.GetType("Prova.Evm.Contracts." + name);
            Assert.True(type is not null, $"no generated binding Prova.Evm.Contracts.{name} for {file}");
            Assert.True(type!.IsSubclassOf(typeof(ContractBinding)));
            using var artifact = JsonDocument.Parse(File.ReadAllText(file));
            var fromFile = AbiContract.FromJson(artifact.RootElement);
            var generated = (AbiContract)type.GetField("ContractAbi")!.GetValue(null)!;
            Assert.Equal(fromFile.Functions.Select(f => f.Signature), generated.Functions.Select(f => f.Signature));
            Assert.Equal(fromFile.Events.Select(e => e.Topic), generated.Events.Select(e => e.Topic));
            Assert.Equal(artifact.RootElement.GetProperty("bytecode").GetString(), (string)type.GetField("BytecodeHex")!.GetValue(null)!);
        }
    }

    [Fact]
    public void Probe_binding_has_typed_members()
    {
        var probe = typeof(Prova.Evm.Tests.Contracts.EvmProbe);
        Assert.Equal(typeof(Task<System.Numerics.BigInteger>), probe.GetMethod("CounterAsync")!.ReturnType);
        Assert.Equal(typeof(Task<Prova.Evm.Rpc.TransactionReceipt>), probe.GetMethod("StoreAsync")!.ReturnType);
        Assert.NotNull(probe.GetNestedType("StoredEvent"));
        Assert.NotNull(probe.GetNestedType("Entry"));
        Assert.Equal("0x" + Convert.ToHexStringLower(Keccak("Stored(address,uint256,string,uint256)")), Prova.Evm.Tests.Contracts.EvmProbe.StoredEvent.Topic.ToString());
    }

    private static byte[] Keccak(string text) => Prova.Core.Crypto.Keccak256.Hash(text).ToArray();
}
