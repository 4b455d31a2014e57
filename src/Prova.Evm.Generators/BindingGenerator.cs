using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Prova.Evm.Generators;

/// <summary>
/// Generates one typed binding class per compiler artifact {"abi": [...], "bytecode": "0x…"} given as an
/// AdditionalFiles item ending in .json. Namespace: the MSBuild property ProvaEvmBindingsNamespace
/// (default "Prova.Evm.Contracts"). The class derives from Prova.Evm.Contracts.ContractBinding.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class BindingGenerator : IIncrementalGenerator
{
    private static readonly DiagnosticDescriptor s_badArtifact = new(
        "PEVM001", "Contract artifact cannot be read", "'{0}' is not a usable contract artifact: {1}", "Prova.Evm", DiagnosticSeverity.Error, true);

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var ns = context.AnalyzerConfigOptionsProvider.Select((options, _) =>
            options.GlobalOptions.TryGetValue("build_property.ProvaEvmBindingsNamespace", out string? value) && !string.IsNullOrWhiteSpace(value)
                ? value.Trim()
                : "Prova.Evm.Contracts");
        var files = context.AdditionalTextsProvider
            .Where(f => f.Path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .Select((f, ct) => (Path: f.Path, Text: f.GetText(ct)?.ToString() ?? ""));
        context.RegisterSourceOutput(files.Combine(ns), (spc, input) =>
        {
            var ((path, text), @namespace) = input;
            string name = Path.GetFileNameWithoutExtension(path);
            try
            {
                if (!(MiniJson.Parse(text) is Dictionary<string, object?> root) || !(root.TryGetValue("abi", out var abi) && abi is List<object?> entries))
                {
                    return; // not an artifact: leave other JSON files alone
                }
                string bytecode = root.TryGetValue("bytecode", out var b) && b is string s ? s : "0x";
                string source = new Emitter(@namespace, Identifier(name, pascal: true), entries, bytecode, Path.GetFileName(path)).Emit();
                spc.AddSource(name + ".Binding.g.cs", SourceText.From(source, Encoding.UTF8));
            }
            catch (FormatException e)
            {
                spc.ReportDiagnostic(Diagnostic.Create(s_badArtifact, Location.None, path, e.Message));
            }
        });
    }

    internal static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue", "decimal",
        "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally", "fixed", "float", "for",
        "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long", "namespace", "new", "null",
        "object", "operator", "out", "override", "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte",
        "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };

    internal static string Identifier(string raw, bool pascal)
    {
        var builder = new StringBuilder();
        foreach (char c in raw)
        {
            builder.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        }
        string s = builder.ToString().TrimStart('_');
        if (s.Length == 0)
        {
            s = "Value";
        }
        if (char.IsDigit(s[0]))
        {
            s = "N" + s;
        }
        s = pascal ? char.ToUpperInvariant(s[0]) + s.Substring(1) : char.ToLowerInvariant(s[0]) + s.Substring(1);
        return Keywords.Contains(s) ? "@" + s : s;
    }
}

/// <summary>An ABI type as the generator sees it.</summary>
internal sealed class GType
{
    public string Kind = ""; // uint int address bool fixedbytes bytes string array fixedarray tuple
    public int Size;
    public GType? Element;
    public List<(string Name, GType Type)> Components = new();
    public string? StructName;

    public static GType From(Dictionary<string, object?> parameter) =>
        Parse(Str(parameter, "type"), Str(parameter, "internalType"), parameter.TryGetValue("components", out var c) ? c as List<object?> : null);

    private static GType Parse(string type, string internalType, List<object?>? components)
    {
        if (type.EndsWith("]", StringComparison.Ordinal))
        {
            int open = type.LastIndexOf('[');
            string inner = type.Substring(open + 1, type.Length - open - 2);
            int iOpen = internalType.LastIndexOf('[');
            var element = Parse(type.Substring(0, open), iOpen > 0 ? internalType.Substring(0, iOpen) : internalType, components);
            return inner.Length == 0
                ? new GType { Kind = "array", Element = element }
                : new GType { Kind = "fixedarray", Element = element, Size = int.Parse(inner, CultureInfo.InvariantCulture) };
        }
        if (type == "tuple")
        {
            var t = new GType { Kind = "tuple" };
            int i = 0;
            foreach (var c in components ?? new List<object?>())
            {
                var p = (Dictionary<string, object?>)c!;
                string name = Str(p, "name");
                t.Components.Add((name.Length == 0 ? "Item" + (i + 1).ToString(CultureInfo.InvariantCulture) : name, From(p)));
                i++;
            }
            string structName = internalType.StartsWith("struct ", StringComparison.Ordinal) ? internalType.Substring(7) : "";
            int dot = structName.LastIndexOf('.');
            t.StructName = structName.Length > 0 ? BindingGenerator.Identifier(structName.Substring(dot + 1), pascal: true) : null;
            return t;
        }
        switch (type)
        {
            case "address": return new GType { Kind = "address" };
            case "bool": return new GType { Kind = "bool" };
            case "string": return new GType { Kind = "string" };
            case "bytes": return new GType { Kind = "bytes" };
            case "uint": return new GType { Kind = "uint", Size = 256 };
            case "int": return new GType { Kind = "int", Size = 256 };
        }
        if (type.StartsWith("uint", StringComparison.Ordinal))
        {
            return new GType { Kind = "uint", Size = int.Parse(type.Substring(4), CultureInfo.InvariantCulture) };
        }
        if (type.StartsWith("int", StringComparison.Ordinal))
        {
            return new GType { Kind = "int", Size = int.Parse(type.Substring(3), CultureInfo.InvariantCulture) };
        }
        if (type.StartsWith("bytes", StringComparison.Ordinal))
        {
            return new GType { Kind = "fixedbytes", Size = int.Parse(type.Substring(5), CultureInfo.InvariantCulture) };
        }
        throw new FormatException($"unsupported ABI type '{type}'");
    }

    internal static string Str(Dictionary<string, object?> o, string key) => o.TryGetValue(key, out var v) && v is string s ? s : "";

    public bool IsDynamicOrComposite => Kind is "bytes" or "string" or "array" or "fixedarray" or "tuple";
}

internal sealed class Emitter
{
    private const string Big = "global::System.Numerics.BigInteger";
    private const string Addr = "global::Prova.Core.Crypto.Address";
    private const string Hash = "global::Prova.Core.Crypto.Hash256";
    private const string Ct = "global::System.Threading.CancellationToken";
    private const string Receipt = "global::Prova.Evm.Rpc.TransactionReceipt";
    private const string LogType = "global::Prova.Evm.Rpc.Log";

    private readonly string _namespace;
    private readonly string _className;
    private readonly List<object?> _entries;
    private readonly string _bytecode;
    private readonly string _fileName;
    private readonly Dictionary<string, GType> _structs = new(StringComparer.Ordinal);
    private readonly StringBuilder _out = new();
    private int _anonymousTuples;

    public Emitter(string @namespace, string className, List<object?> entries, string bytecode, string fileName)
    {
        _namespace = @namespace;
        _className = className;
        _entries = entries;
        _bytecode = bytecode;
        _fileName = fileName;
    }

    private bool HasBytecode => _bytecode.Length > 2;

    public string Emit()
    {
        var body = new StringBuilder();
        var functions = _entries.OfType<Dictionary<string, object?>>().ToList();
        string abiJson = Serialize(_entries);
        int functionIndex = 0;
        int eventIndex = 0;
        var fields = new StringBuilder();
        foreach (var entry in functions)
        {
            string type = GType.Str(entry, "type");
            if (type == "constructor" && HasBytecode)
            {
                EmitDeploy(body, entry);
            }
            else if (type == "function")
            {
                EmitFunction(body, fields, entry, functionIndex++);
            }
            else if (type == "event")
            {
                EmitEvent(body, fields, entry, eventIndex++);
            }
        }
        if (HasBytecode && !functions.Any(e => GType.Str(e, "type") == "constructor"))
        {
            EmitDeploy(body, new Dictionary<string, object?> { ["inputs"] = new List<object?>(), ["stateMutability"] = "nonpayable" });
        }
        var o = _out;
        o.AppendLine("// <auto-generated/> by Prova.Evm.Generators from " + _fileName + ". Do not edit.");
        o.AppendLine("#nullable enable");
        o.AppendLine("#pragma warning disable CS1591");
        o.AppendLine("namespace " + _namespace + ";");
        o.AppendLine();
        o.AppendLine("/// <summary>Typed binding for the " + _className + " contract (generated from " + _fileName + ").</summary>");
        o.AppendLine("[global::System.CodeDom.Compiler.GeneratedCode(\"Prova.Evm.Generators\", \"1.0\")]");
        o.AppendLine("public sealed partial class " + _className + " : global::Prova.Evm.Contracts.ContractBinding");
        o.AppendLine("{");
        o.AppendLine("    /// <summary>The contract's JSON ABI.</summary>");
        o.AppendLine("    public const string AbiJson = " + Literal(abiJson) + ";");
        o.AppendLine();
        o.AppendLine("    /// <summary>Creation bytecode (without constructor arguments).</summary>");
        o.AppendLine("    public const string BytecodeHex = " + Literal(_bytecode) + ";");
        o.AppendLine();
        o.AppendLine("    /// <summary>The parsed ABI.</summary>");
        o.AppendLine("    public static readonly global::Prova.Evm.Abi.AbiContract ContractAbi = global::Prova.Evm.Abi.AbiContract.Parse(AbiJson);");
        o.AppendLine();
        o.Append(fields);
        o.AppendLine();
        o.AppendLine("    /// <summary>Binds to a deployed contract. Without <paramref name=\"account\"/> the binding can only call and read events.</summary>");
        o.AppendLine("    public " + _className + "(" + Addr + " address, global::Prova.Evm.Rpc.EthClient client, global::Prova.Evm.Rpc.EvmAccount? account = null)");
        o.AppendLine("        : base(ContractAbi, address, client, account)");
        o.AppendLine("    {");
        o.AppendLine("    }");
        o.AppendLine();
        o.AppendLine("    /// <summary>Binds to a deployed contract, sending from <paramref name=\"account\"/>.</summary>");
        o.AppendLine("    public " + _className + "(" + Addr + " address, global::Prova.Evm.Rpc.EvmAccount account)");
        o.AppendLine("        : base(ContractAbi, address, account.Client, account)");
        o.AppendLine("    {");
        o.AppendLine("    }");
        o.AppendLine();
        o.AppendLine("    /// <summary>The creation bytecode as bytes.</summary>");
        o.AppendLine("    public static byte[] Bytecode => global::System.Convert.FromHexString(BytecodeHex.StartsWith(\"0x\") ? BytecodeHex.Substring(2) : BytecodeHex);");
        o.AppendLine();
        o.Append(body);
        foreach (var s in _structs.Values)
        {
            EmitStruct(s);
        }
        o.AppendLine("}");
        return o.ToString();
    }

    // ---------- members ----------

    private void EmitDeploy(StringBuilder o, Dictionary<string, object?> entry)
    {
        var inputs = Params(entry, "inputs");
        bool payable = GType.Str(entry, "stateMutability") == "payable";
        var names = UniqueNames(inputs, "account", "ethValue", "cancellationToken");
        string args = string.Join("", inputs.Select((p, i) => ", " + CsType(p.Type) + " " + names[i]));
        o.AppendLine("    /// <summary>Deploys a new " + _className + " from <paramref name=\"account\"/> and waits for the receipt.</summary>");
        o.AppendLine("    public static async global::System.Threading.Tasks.Task<" + _className + "> DeployAsync(global::Prova.Evm.Rpc.EvmAccount account" + args
            + (payable ? ", " + Big + " ethValue = default" : "") + ", " + Ct + " cancellationToken = default)");
        o.AppendLine("    {");
        o.AppendLine("        var receipt = await DeployCoreAsync(account, ContractAbi, Bytecode, new object?[] { " + string.Join(", ", inputs.Select((p, i) => ToAbi(p.Type, names[i], 0))) + " }, "
            + (payable ? "ethValue" : Big + ".Zero") + ", cancellationToken).ConfigureAwait(false);");
        o.AppendLine("        return new " + _className + "(receipt.ContractAddress!.Value, account.Client, account) { DeploymentReceipt = receipt };");
        o.AppendLine("    }");
        o.AppendLine();
    }

    private void EmitFunction(StringBuilder o, StringBuilder fields, Dictionary<string, object?> entry, int index)
    {
        string name = GType.Str(entry, "name");
        string method = BindingGenerator.Identifier(ScreamingToPascal(name), pascal: true).TrimStart('@');
        var inputs = Params(entry, "inputs");
        var outputs = Params(entry, "outputs");
        string mutability = GType.Str(entry, "stateMutability");
        string field = "s_function" + index.ToString(CultureInfo.InvariantCulture);
        string signature = name + "(" + string.Join(",", inputs.Select(p => Canonical(p.Type))) + ")";
        fields.AppendLine("    private static readonly global::Prova.Evm.Abi.AbiFunction " + field + " = ContractAbi.Function(" + Literal(signature) + ");");
        var names = UniqueNames(inputs, "block", "ethValue", "cancellationToken");
        string args = string.Join("", inputs.Select((p, i) => CsType(p.Type) + " " + names[i] + ", "));
        string abiArgs = "new object?[] { " + string.Join(", ", inputs.Select((p, i) => ToAbi(p.Type, names[i], 0))) + " }";
        o.AppendLine("    /// <summary><c>" + Escape(signature) + "</c> (" + mutability + ")" + (mutability is "view" or "pure" ? " via eth_call." : ": sends a transaction and waits for its receipt.") + "</summary>");
        if (mutability is "view" or "pure")
        {
            string returnType;
            string result;
            if (outputs.Count == 0)
            {
                returnType = "global::System.Threading.Tasks.Task";
                result = "";
            }
            else if (outputs.Count == 1)
            {
                returnType = "global::System.Threading.Tasks.Task<" + CsType(outputs[0].Type) + ">";
                result = "return " + FromAbi(outputs[0].Type, "outputs[0]", 0) + ";";
            }
            else
            {
                string record = method + "Result";
                var outNames = outputs.Select((p, i) => p.Name.Length == 0 ? "Item" + (i + 1).ToString(CultureInfo.InvariantCulture) : BindingGenerator.Identifier(p.Name, pascal: true)).ToList();
                fields.AppendLine("    /// <summary>The outputs of " + Escape(signature) + ".</summary>");
                fields.AppendLine("    public sealed record " + record + "(" + string.Join(", ", outputs.Select((p, i) => CsType(p.Type) + " " + outNames[i])) + ");");
                returnType = "global::System.Threading.Tasks.Task<" + record + ">";
                result = "return new " + record + "(" + string.Join(", ", outputs.Select((p, i) => FromAbi(p.Type, "outputs[" + i.ToString(CultureInfo.InvariantCulture) + "]", 0))) + ");";
            }
            o.AppendLine("    public async " + returnType + " " + method + "Async(" + args + "string block = \"latest\", " + Ct + " cancellationToken = default)");
            o.AppendLine("    {");
            o.AppendLine("        " + (outputs.Count == 0 ? "" : "var outputs = ") + "await CallCoreAsync(" + field + ", " + abiArgs + ", block, cancellationToken).ConfigureAwait(false);");
            if (result.Length > 0)
            {
                o.AppendLine("        " + result);
            }
            o.AppendLine("    }");
        }
        else
        {
            bool payable = mutability == "payable";
            o.AppendLine("    public global::System.Threading.Tasks.Task<" + Receipt + "> " + method + "Async(" + args + (payable ? Big + " ethValue = default, " : "") + Ct + " cancellationToken = default) =>");
            o.AppendLine("        SendCoreAsync(" + field + ", " + abiArgs + ", " + (payable ? "ethValue" : Big + ".Zero") + ", cancellationToken);");
        }
        o.AppendLine();
    }

    private void EmitEvent(StringBuilder o, StringBuilder fields, Dictionary<string, object?> entry, int index)
    {
        string name = GType.Str(entry, "name");
        string record = BindingGenerator.Identifier(name, pascal: true).TrimStart('@') + "Event";
        var inputs = Params(entry, "inputs");
        string field = "s_event" + index.ToString(CultureInfo.InvariantCulture);
        string signature = name + "(" + string.Join(",", inputs.Select(p => Canonical(p.Type))) + ")";
        fields.AppendLine("    private static readonly global::Prova.Evm.Abi.AbiEvent " + field + " = ContractAbi.Event(" + Literal(signature) + ");");
        var propNames = inputs.Select((p, i) => p.Name.Length == 0 ? "Item" + (i + 1).ToString(CultureInfo.InvariantCulture) : BindingGenerator.Identifier(p.Name, pascal: true)).ToList();
        // Indexed strings, bytes, arrays and tuples are only their keccak256 hash in the log.
        var types = inputs.Select(p => p.Indexed && p.Type.IsDynamicOrComposite ? Hash : CsType(p.Type)).ToList();
        var conversions = inputs.Select((p, i) => p.Indexed && p.Type.IsDynamicOrComposite
            ? "(" + Hash + ")v[" + i.ToString(CultureInfo.InvariantCulture) + "]!"
            : FromAbi(p.Type, "v[" + i.ToString(CultureInfo.InvariantCulture) + "]", 0)).ToList();
        fields.AppendLine("    /// <summary>Event <c>" + Escape(signature) + "</c> with the log it came from. Indexed dynamic values are their keccak256 topic.</summary>");
        fields.AppendLine("    public sealed record " + record + "(" + string.Join("", inputs.Select((p, i) => types[i] + " " + propNames[i] + ", ")) + LogType + " Log)");
        fields.AppendLine("    {");
        fields.AppendLine("        /// <summary>Topic 0: keccak256(\"" + Escape(signature) + "\").</summary>");
        fields.AppendLine("        public static " + Hash + " Topic => " + field + ".Topic;");
        fields.AppendLine();
        fields.AppendLine("        internal static " + record + " Make(object?[] v, " + LogType + " log) => new(" + string.Join("", conversions.Select(c => c + ", ")) + "log);");
        fields.AppendLine();
        fields.AppendLine("        /// <summary>Decodes <paramref name=\"log\"/> when it is this event (any emitting address).</summary>");
        fields.AppendLine("        public static bool TryDecode(" + LogType + " log, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out " + record + "? decoded)");
        fields.AppendLine("        {");
        fields.AppendLine("            decoded = TryDecodeEvent(" + field + ", log, out var v) ? Make(v, log) : null;");
        fields.AppendLine("            return decoded is not null;");
        fields.AppendLine("        }");
        fields.AppendLine("    }");
        fields.AppendLine();
        string plural = record.Substring(0, record.Length - "Event".Length);
        o.AppendLine("    /// <summary>" + Escape(signature) + " events of this contract in blocks [fromBlock, toBlock] (toBlock null = latest).</summary>");
        o.AppendLine("    public global::System.Threading.Tasks.Task<global::System.Collections.Generic.IReadOnlyList<" + record + ">> Get" + plural + "EventsAsync(ulong fromBlock = 0, ulong? toBlock = null, " + Ct + " cancellationToken = default) =>");
        o.AppendLine("        GetEventsCoreAsync(" + field + ", " + record + ".Make, fromBlock, toBlock, cancellationToken);");
        o.AppendLine();
        o.AppendLine("    /// <summary>Polls for " + Escape(signature) + " events from <paramref name=\"fromBlock\"/> on, each yielded once its block has <paramref name=\"confirmations\"/> confirmations.</summary>");
        o.AppendLine("    public global::System.Collections.Generic.IAsyncEnumerable<" + record + "> Watch" + plural + "EventsAsync(ulong fromBlock, int confirmations = 1, " + Ct + " cancellationToken = default) =>");
        o.AppendLine("        WatchEventsCoreAsync(" + field + ", " + record + ".Make, fromBlock, confirmations, cancellationToken);");
        o.AppendLine();
        o.AppendLine("    /// <summary>The " + Escape(signature) + " events this contract emitted in <paramref name=\"receipt\"/>.</summary>");
        o.AppendLine("    public global::System.Collections.Generic.IReadOnlyList<" + record + "> " + plural + "EventsIn(" + Receipt + " receipt) => EventsIn(" + field + ", Address, receipt, " + record + ".Make);");
        o.AppendLine();
    }

    private void EmitStruct(GType t)
    {
        var o = _out;
        var names = t.Components.Select(c => BindingGenerator.Identifier(c.Name, pascal: true)).ToList();
        o.AppendLine("    /// <summary>Solidity struct / tuple <c>" + Canonical(t) + "</c>.</summary>");
        o.AppendLine("    public sealed record " + t.StructName + "(" + string.Join(", ", t.Components.Select((c, i) => CsType(c.Type) + " " + names[i])) + ")");
        o.AppendLine("    {");
        o.AppendLine("        internal object?[] ToAbi() => new object?[] { " + string.Join(", ", t.Components.Select((c, i) => ToAbi(c.Type, names[i], 0))) + " };");
        o.AppendLine();
        o.AppendLine("        internal static " + t.StructName + " FromAbi(object? value)");
        o.AppendLine("        {");
        o.AppendLine("            var v = (object?[])value!;");
        o.AppendLine("            return new " + t.StructName + "(" + string.Join(", ", t.Components.Select((c, i) => FromAbi(c.Type, "v[" + i.ToString(CultureInfo.InvariantCulture) + "]", 0))) + ");");
        o.AppendLine("        }");
        o.AppendLine("    }");
        o.AppendLine();
    }

    /// <summary>MAX_COMMITTEE → MaxCommittee (constants' getters); other names unchanged.</summary>
    private static string ScreamingToPascal(string name)
    {
        if (name.Length < 2 || name.Any(char.IsLower))
        {
            return name;
        }
        return string.Concat(name.Split(new[] { '_' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(part => part.Substring(0, 1) + part.Substring(1).ToLowerInvariant()));
    }

    // ---------- types ----------

    private List<(string Name, GType Type, bool Indexed)> Params(Dictionary<string, object?> entry, string key)
    {
        var result = new List<(string, GType, bool)>();
        if (entry.TryGetValue(key, out var list) && list is List<object?> items)
        {
            foreach (var item in items.OfType<Dictionary<string, object?>>())
            {
                var type = GType.From(item);
                Register(type);
                result.Add((GType.Str(item, "name"), type, item.TryGetValue("indexed", out var ix) && ix is true));
            }
        }
        return result;
    }

    private void Register(GType t)
    {
        if (t.Element is not null)
        {
            Register(t.Element);
        }
        if (t.Kind != "tuple")
        {
            return;
        }
        foreach (var c in t.Components)
        {
            Register(c.Type);
        }
        t.StructName ??= "Tuple" + (++_anonymousTuples).ToString(CultureInfo.InvariantCulture);
        if (t.StructName == _className)
        {
            t.StructName += "Struct";
        }
        if (!_structs.ContainsKey(t.StructName))
        {
            _structs[t.StructName] = t;
        }
    }

    private static List<string> UniqueNames(List<(string Name, GType Type, bool Indexed)> inputs, params string[] reserved)
    {
        var used = new HashSet<string>(reserved, StringComparer.Ordinal);
        var names = new List<string>();
        for (int i = 0; i < inputs.Count; i++)
        {
            string n = inputs[i].Name.Length == 0 ? "arg" + i.ToString(CultureInfo.InvariantCulture) : BindingGenerator.Identifier(inputs[i].Name, pascal: false);
            while (!used.Add(n))
            {
                n += "_";
            }
            names.Add(n);
        }
        return names;
    }

    private static string CsType(GType t) => t.Kind switch
    {
        "uint" => t.Size switch { 8 => "byte", 16 => "ushort", 32 => "uint", <= 64 => "ulong", _ => Big },
        "int" => t.Size switch { 8 => "sbyte", 16 => "short", 32 => "int", <= 64 => "long", _ => Big },
        "address" => Addr,
        "bool" => "bool",
        "fixedbytes" => t.Size == 32 ? Hash : "byte[]",
        "bytes" => "byte[]",
        "string" => "string",
        "array" or "fixedarray" => CsType(t.Element!) + "[]",
        _ => t.StructName!,
    };

    private static string Canonical(GType t) => t.Kind switch
    {
        "uint" => "uint" + t.Size.ToString(CultureInfo.InvariantCulture),
        "int" => "int" + t.Size.ToString(CultureInfo.InvariantCulture),
        "fixedbytes" => "bytes" + t.Size.ToString(CultureInfo.InvariantCulture),
        "array" => Canonical(t.Element!) + "[]",
        "fixedarray" => Canonical(t.Element!) + "[" + t.Size.ToString(CultureInfo.InvariantCulture) + "]",
        "tuple" => "(" + string.Join(",", t.Components.Select(c => Canonical(c.Type))) + ")",
        _ => t.Kind,
    };

    private static bool NeedsConversion(GType t) => t.Kind == "tuple" || (t.Element is not null && NeedsConversion(t.Element));

    /// <summary>C# expression turning a typed value into what AbiCodec encodes.</summary>
    private static string ToAbi(GType t, string expr, int depth)
    {
        if (t.Kind == "tuple")
        {
            return expr + ".ToAbi()";
        }
        if (t.Element is not null && NeedsConversion(t.Element))
        {
            string e = "e" + depth.ToString(CultureInfo.InvariantCulture);
            return "global::System.Linq.Enumerable.ToArray(global::System.Linq.Enumerable.Select(" + expr + ", " + e + " => (object?)" + ToAbi(t.Element, e, depth + 1) + "))";
        }
        return expr;
    }

    /// <summary>C# expression turning a decoded object? into the typed value.</summary>
    private static string FromAbi(GType t, string expr, int depth)
    {
        string bigValue = "((" + Big + ")" + expr + "!)";
        switch (t.Kind)
        {
            case "uint":
            case "int":
                string cs = CsType(t);
                return cs == Big ? bigValue : "(" + cs + ")" + bigValue;
            case "address":
                return "((" + Addr + ")" + expr + "!)";
            case "bool":
                return "((bool)" + expr + "!)";
            case "fixedbytes":
                return t.Size == 32 ? "new " + Hash + "((byte[])" + expr + "!)" : "((byte[])" + expr + "!)";
            case "bytes":
                return "((byte[])" + expr + "!)";
            case "string":
                return "((string)" + expr + "!)";
            case "array":
            case "fixedarray":
                string e = "e" + depth.ToString(CultureInfo.InvariantCulture);
                return "global::System.Linq.Enumerable.ToArray(global::System.Linq.Enumerable.Select((object?[])" + expr + "!, " + e + " => " + FromAbi(t.Element!, e, depth + 1) + "))";
            default:
                return t.StructName + ".FromAbi(" + expr + ")";
        }
    }

    // ---------- text ----------

    private static string Literal(string s)
    {
        var builder = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    private static string Serialize(object? value)
    {
        switch (value)
        {
            case null: return "null";
            case bool b: return b ? "true" : "false";
            case double d: return d.ToString("R", CultureInfo.InvariantCulture);
            case string s: return JsonString(s);
            case List<object?> list: return "[" + string.Join(",", list.Select(Serialize)) + "]";
            case Dictionary<string, object?> map: return "{" + string.Join(",", map.Select(kv => JsonString(kv.Key) + ":" + Serialize(kv.Value))) + "}";
            default: return "null";
        }
    }

    private static string JsonString(string s)
    {
        var builder = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\')
            {
                builder.Append('\\').Append(c);
            }
            else if (c < 0x20)
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.Append('"').ToString();
    }
}
