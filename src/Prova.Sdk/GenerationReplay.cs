using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Runtime;

namespace Prova.Sdk;

/// <summary>A generation re-executed locally: the ids and text Prova's engine gives, and their output hash.</summary>
public sealed record ReplayedGeneration(int[] Ids, string Text, Dictionary<string, Tensor> Outputs)
{
    public Hash256 OutputHash => Receipt.HashTensors(Outputs);
}

/// <summary>
/// Re-executes a signed generation (docs/verified-chat.md): the result's model must be the bundle folder at hand (its CID
/// recomputed from the files), the request is read back from the signed input tensors (<see cref="GenerationRequest"/>)
/// and run with <see cref="LanguageModel.Run"/>, whose tokens are the same on every machine, thread count and SIMD width.
/// Used by <see cref="ResultVerifier"/> and <see cref="EvidenceVerifier"/>.
/// </summary>
public static class GenerationReplay
{
    /// <summary>
    /// Null when <paramref name="model"/> (a bundle folder, or a single model file) has CID <paramref name="cid"/>,
    /// else why not. Hidden files (the cache's <c>.prova-cid</c> marker) are not part of a bundle.
    /// </summary>
    public static string? CheckModel(string model, Cid cid, int chunkSize)
    {
        Cid actual;
        if (Directory.Exists(model))
        {
            actual = ProvaClient.BuildBundle(model, chunkSize).Bundle.Cid;
            if (actual != cid && File.Exists(Path.Combine(model, ModelFolder.SingleModelName)))
            {
                // A single-file model resolves to a folder holding just model.onnx (ModelFolders).
                using var single = File.OpenRead(Path.Combine(model, ModelFolder.SingleModelName));
                if (ModelManifest.Build(single, chunkSize).Cid == cid)
                {
                    return null;
                }
            }
        }
        else if (File.Exists(model))
        {
            using var file = File.OpenRead(model);
            actual = ModelManifest.Build(file, chunkSize).Cid;
        }
        else
        {
            return $"'{model}' is neither a model folder nor a file";
        }
        return actual == cid ? null : $"the model at '{model}' has CID {actual}, not {cid}";
    }

    /// <summary>Runs the generation request <paramref name="inputs"/> on <paramref name="model"/>; <see cref="ProvaException"/>s name the problem.</summary>
    public static ReplayedGeneration Run(string model, IReadOnlyDictionary<string, Tensor> inputs, int threads = 0)
    {
        var request = GenerationRequest.FromTensors(inputs);
        using var lm = LanguageModel.Load(model, threads);
        var generation = lm.Run(request);
        return new ReplayedGeneration(generation.Ids, generation.Text ?? "", generation.ToTensors());
    }

    /// <summary>
    /// Compares the signed outputs with the re-executed ones token by token: null when identical, else one line naming the
    /// first differing token index, the re-executed and the signed ids, and both texts.
    /// </summary>
    public static string? Compare(ReplayedGeneration replay, IReadOnlyDictionary<string, Tensor> signedOutputs)
    {
        int[] signed;
        string signedText;
        try
        {
            (signed, signedText) = GenerationOutput.Read(signedOutputs);
        }
        catch (InputException ex)
        {
            return $"the signed outputs are not a generation's: {ex.Message}";
        }
        int common = Math.Min(signed.Length, replay.Ids.Length);
        for (int i = 0; i < common; i++)
        {
            if (signed[i] != replay.Ids[i])
            {
                return $"token {i} differs: Prova's re-execution gives id {replay.Ids[i]}, the result signs id {signed[i]} "
                    + $"(re-executed text {Quote(replay.Text)}, signed text {Quote(signedText)})";
            }
        }
        if (signed.Length != replay.Ids.Length)
        {
            return $"the result signs {signed.Length} tokens, Prova's re-execution gives {replay.Ids.Length} (the first {common} agree; "
                + $"re-executed text {Quote(replay.Text)}, signed text {Quote(signedText)})";
        }
        if (!string.Equals(signedText, replay.Text, StringComparison.Ordinal))
        {
            return $"the tokens agree but the signed text {Quote(signedText)} is not what they decode to ({Quote(replay.Text)})";
        }
        return null;
    }

    private static string Quote(string text) => JsonSerializer.Serialize(text.Length > 120 ? text[..120] + "…" : text);
}
