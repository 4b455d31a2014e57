using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Sdk;

/// <summary>The outcome of checking an evidence file: every check run (the first failure ends it) and, after re-execution, who lied.</summary>
public sealed record EvidenceVerification(IReadOnlyList<ResultCheck> Checks, EvidenceFile Evidence)
{
    public bool IsValid => Checks.Count > 0 && Checks.All(c => c.Passed);

    public ResultCheck? Failure => Checks.FirstOrDefault(c => !c.Passed);

    /// <summary>The output hash Prova's engine computes; null when the model was not re-executed.</summary>
    public Hash256? RecomputedOutputHash { get; init; }

    /// <summary>Nodes that signed an output hash other than the re-computed one (empty without re-execution).</summary>
    public IReadOnlyList<Address> Liars { get; init; } = [];

    /// <summary>Nodes that signed the re-computed output hash (empty without re-execution).</summary>
    public IReadOnlyList<Address> Honest { get; init; } = [];
}

/// <summary>
/// Checks evidence of a disagreeing quorum (docs/devnet.md): every receipt's signature recovers to
/// its node, the nodes are distinct, all receipts name the evidence's model, input hash, request id
/// and mode, the included inputs hash to that input hash, the outputs list matches the receipts, and
/// at least two different output hashes were signed. With the model's bytes it re-executes the model
/// on the inputs and names the node(s) whose signed output hash differs from the true one.
/// </summary>
public static class EvidenceVerifier
{
    public static EvidenceVerification Verify(byte[] json, ResultVerifierOptions? options = null) => Verify(EvidenceFile.Parse(json), options);

    public static EvidenceVerification Verify(EvidenceFile evidence, ResultVerifierOptions? options = null)
    {
        options ??= new ResultVerifierOptions();
        var checks = new List<ResultCheck>();
        var done = new EvidenceVerification(checks, evidence);
        if (evidence.Reason != EvidenceFile.QuorumDisagreement)
        {
            checks.Add(new ResultCheck("format", false, $"reason '{evidence.Reason}' is not '{EvidenceFile.QuorumDisagreement}'"));
            return done;
        }
        if (evidence.Receipts.Count < 2)
        {
            checks.Add(new ResultCheck("format", false, $"{evidence.Receipts.Count} receipt(s): a disagreement needs at least two"));
            return done;
        }
        checks.Add(new ResultCheck("format", true, $"model {evidence.Model}, {evidence.Receipts.Count} receipts"));

        for (int i = 0; i < evidence.Receipts.Count; i++)
        {
            var v = evidence.Receipts[i].Verify();
            if (!v.IsValid)
            {
                checks.Add(new ResultCheck("signatures", false, $"receipt {i}: {v.Message}"));
                return done;
            }
        }
        checks.Add(new ResultCheck("signatures", true, $"all {evidence.Receipts.Count} receipts are signed by their nodes (EIP-712)"));

        var nodes = evidence.Receipts.Select(r => r.Node).ToList();
        if (nodes.Distinct().Count() != nodes.Count)
        {
            checks.Add(new ResultCheck("nodes", false, "two receipts are signed by the same node: a quorum needs distinct nodes"));
            return done;
        }
        checks.Add(new ResultCheck("nodes", true, $"{nodes.Count} distinct nodes"));

        var first = evidence.Receipts[0];
        var inputHash = Receipt.HashTensors(evidence.Inputs);
        if (inputHash != evidence.InputHash)
        {
            checks.Add(new ResultCheck("request", false, $"the included inputs hash to {inputHash}, the evidence says {evidence.InputHash}"));
            return done;
        }
        for (int i = 0; i < evidence.Receipts.Count; i++)
        {
            var r = evidence.Receipts[i];
            string? problem = r.Model != evidence.Model ? $"names model {r.Model}, the evidence {evidence.Model}"
                : r.InputHash != evidence.InputHash ? $"names input hash {r.InputHash}, the evidence {evidence.InputHash}"
                : r.RequestId != first.RequestId ? $"answers request {r.RequestId}, receipt 0 {first.RequestId}"
                : r.Mode != first.Mode ? $"has mode '{r.Mode}', receipt 0 '{first.Mode}'"
                : r.ChainId != first.ChainId ? $"is for chain {r.ChainId}, receipt 0 for {first.ChainId}"
                : null;
            if (problem is not null)
            {
                checks.Add(new ResultCheck("request", false, $"receipt {i} {problem}: the receipts are not answers to one request"));
                return done;
            }
        }
        checks.Add(new ResultCheck("request", true, $"one request: {first.RequestId.ToString()[..18]}…, mode {first.Mode}, inputs {inputHash.ToString()[..18]}…"));

        var claimed = evidence.Receipts.Select(r => new EvidenceOutput(r.Node, r.OutputHash)).ToHashSet();
        if (evidence.Outputs.Count != evidence.Receipts.Count || !claimed.SetEquals(evidence.Outputs))
        {
            checks.Add(new ResultCheck("outputs", false, "the \"outputs\" list does not match the receipts' nodes and output hashes"));
            return done;
        }
        var groups = evidence.Receipts.GroupBy(r => r.OutputHash).OrderByDescending(g => g.Count()).ToList();
        if (groups.Count < 2)
        {
            checks.Add(new ResultCheck("conflict", false, $"all receipts sign the same output hash {groups[0].Key}: there is no disagreement"));
            return done;
        }
        checks.Add(new ResultCheck("conflict", true, string.Join("; ", groups.Select(g =>
            $"{g.Key.ToString()[..18]}… signed by {string.Join(", ", g.Select(r => Short(r.Node)))}"))));

        Hash256 truth;
        if (Prova.Lm.GenerationRequest.IsGenerationRequest(evidence.Inputs))
        {
            if (options.ModelPath is not { } path)
            {
                return done;
            }
            if (GenerationReplay.CheckModel(path, evidence.Model, options.ChunkSize) is { } problem)
            {
                checks.Add(new ResultCheck("model", false, problem));
                return done;
            }
            checks.Add(new ResultCheck("model", true, $"the model folder is {evidence.Model}"));
            try
            {
                truth = GenerationReplay.Run(path, evidence.Inputs, options.Threads).OutputHash;
            }
            catch (ProvaException ex)
            {
                checks.Add(new ResultCheck("re-execution", false, $"the generation cannot be re-run: {ex.Message}"));
                return done;
            }
        }
        else
        {
            if (options.ModelBytes is not { } modelBytes)
            {
                return done;
            }
            var cid = ModelManifest.Build(modelBytes, options.ChunkSize).Cid;
            if (cid != evidence.Model)
            {
                checks.Add(new ResultCheck("model", false, $"the model file has CID {cid}, the evidence is about {evidence.Model}"));
                return done;
            }
            checks.Add(new ResultCheck("model", true, $"the model file is {cid}"));
            try
            {
                var model = OnnxLoader.Load(modelBytes);
                using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
                truth = Receipt.HashTensors(session.Run(evidence.Inputs));
            }
            catch (ProvaException ex)
            {
                checks.Add(new ResultCheck("re-execution", false, $"the model cannot be run on the evidence's inputs: {ex.Message}"));
                return done;
            }
        }
        var liars = evidence.Receipts.Where(r => r.OutputHash != truth).Select(r => r.Node).ToList();
        var honest = evidence.Receipts.Where(r => r.OutputHash == truth).Select(r => r.Node).ToList();
        checks.Add(new ResultCheck("re-execution", true, honest.Count == 0
            ? $"Prova's engine computes {truth.ToString()[..18]}…: every node lied ({string.Join(", ", liars)})"
            : $"Prova's engine computes {truth.ToString()[..18]}…: {(liars.Count == 1 ? "node" : "nodes")} {string.Join(", ", liars)} lied"));
        return done with { RecomputedOutputHash = truth, Liars = liars, Honest = honest };
    }

    internal static string Short(Address a)
    {
        string s = a.ToString();
        return s[..8] + "…" + s[^4..];
    }
}
