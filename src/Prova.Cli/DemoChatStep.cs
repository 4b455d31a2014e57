using System.Globalization;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Lm.Text;
using Prova.Sdk;
using Spectre.Console;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiChatOptions = Microsoft.Extensions.AI.ChatOptions;
using AiChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Prova.Cli;

/// <summary>What the chat step leaves for the on-chain part: the lie about a generation and the request it answered.</summary>
internal sealed record ChallengedLie(Cid Model, Receipt Lie, IReadOnlyDictionary<string, Tensor> Inputs);

/// <summary>
/// Demo step 8b: the default language model (models/lm) published as a bundle, replicated, asked a question under
/// quorum:3 (three nodes generate with the same seed and agree token for token), re-executed here, then asked again
/// with the lying node in the quorum: its one swapped token is caught and named.
/// </summary>
internal static class DemoChatStep
{
    private const string Question = "What did the jury say about the election?";
    private const ulong Seed = 7;

    public static async Task<(bool Ok, ChallengedLie? Lie)> RunAsync(IAnsiConsole console, Devnet devnet, ProvaNetwork network, PrivateKey owner,
        int liarIndex, string dir, CancellationToken ct)
    {
        string? root = DemoAssets.FindRepository();
        string? bundle = root is null ? null : Path.Combine(root, "models", "lm");
        if (bundle is null || !File.Exists(Path.Combine(bundle, "model.onnx")))
        {
            return (true, null);
        }
        DemoCommand.Rule(console, "8b. chat: a language model under quorum:3, every token re-derivable");
        PushResult pushed;
        using (var client = new ProvaClient(devnet.Nodes[0].Url))
        {
            pushed = await client.PushDirectoryAsync(bundle, new PushOptions { Name = "lm/default", Version = "1.0.0", Description = "Prova's default language model (Brown corpus GPT)", License = "MIT" },
                owner, null, ct);
        }
        var hosts = await devnet.WaitForReplicasAsync(pushed.Cid, devnet.Nodes.Count, TimeSpan.FromSeconds(20), null, ct);
        console.MarkupLine($"[grey]bundle[/] models/lm ({pushed.Files?.Count ?? 0} files, {NetworkOptions.Bytes(pushed.Bytes)}) → [bold]{pushed.Cid}[/], hosted by {hosts.Count}/4 nodes");
        bool ok = DemoCommand.Check(console, hosts.Count == devnet.Nodes.Count, "every node holds the language model", "the language model did not reach every node");

        // Any OpenAI client works against a node; Prova's own IChatClient also checks the evidence that ends the stream.
        console.MarkupLine($"[grey]POST {devnet.Nodes[0].Url}v1/chat/completions (stream: true), through ProvaChatClient (an IChatClient):[/]");
        console.Markup($"[grey]user[/] {Markup.Escape(Question)}\n[grey]assistant[/] ");
        ResultFile? streamed = null;
        using (var chat = new ProvaChatClient(devnet.Nodes[0].Url, new ProvaChatClientOptions { DefaultModel = pushed.Cid.ToString() }))
        {
            var chatOptions = new AiChatOptions { MaxOutputTokens = 24, Seed = (long)Seed };
            await foreach (var update in chat.GetStreamingResponseAsync([new AiChatMessage(AiChatRole.User, Question)], chatOptions, ct))
            {
                console.Markup($"[bold]{Markup.Escape(update.Text)}[/]");
                streamed = update.GetProvaResult() ?? streamed;
            }
        }
        console.WriteLine();
        if (streamed is null)
        {
            return (DemoCommand.Check(console, false, "", "the stream ended without its evidence"), null);
        }
        string streamedPath = Path.Combine(dir, "result-chat-stream.json");
        streamed.Save(streamedPath);
        var replay = ResultVerifier.Verify(File.ReadAllBytes(streamedPath), new ResultVerifierOptions { ModelPath = bundle });
        ok &= DemoCommand.PrintVerification(console, replay.Checks, $"prova verify {Path.GetFileName(streamedPath)} --model models/lm");
        ok &= DemoCommand.Check(console, replay.IsValid, "the streamed answer's receipt verifies and generating it again here gives every token", "the streamed answer did not verify");

        using var lm = LanguageModel.Load(bundle, threads: 1);
        var request = new GenerationRequest
        {
            PromptIds = lm.EncodeChat([new ChatMessage("user", Question)]),
            MaxTokens = 24,
            Sampling = lm.DefaultSampling() with { Seed = Seed },
        };
        var inputs = request.ToTensors();
        var liar = devnet.Nodes[liarIndex].Address;

        var quorum = await network.InferAsync(pushed.Cid, inputs, "quorum:3", new NetworkInferOptions { Exclude = [liar] }, ct);
        var (ids, text) = GenerationOutput.Read(quorum.Outputs);
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[grey]user[/]", Markup.Escape(Question));
        grid.AddRow("[grey]assistant[/]", $"[bold]{Markup.Escape(text.Trim())}[/]");
        grid.AddRow("[grey]request[/]", $"{request.PromptIds!.Length} prompt tokens (chat template applied), temperature {request.Sampling.Temperature.ToString(CultureInfo.InvariantCulture)}, top-k {request.Sampling.TopK}, seed {Seed}: inputHash {quorum.Answers[0].Receipt.InputHash.ToString()[..18]}…");
        grid.AddRow("[grey]tokens[/]", $"{ids.Length} generated, outputHash {quorum.OutputHash.ToString()[..18]}…");
        console.Write(new Panel(grid).Header("quorum:3 through the SDK: the same request to three nodes").Border(BoxBorder.Rounded));
        console.Write(InferCommand.Claims(quorum.Answers, quorum.OutputHash));
        string resultPath = Path.Combine(dir, "result-chat.json");
        quorum.ToResultFile().Save(resultPath);
        var local = lm.Run(request);
        bool same = local.ToTensors() is var localOutputs && Receipt.HashTensors(localOutputs) == quorum.OutputHash;
        ok &= DemoCommand.Check(console, quorum.Answers.Count == 3 && same,
            $"three nodes signed the same {ids.Length} tokens, and generating here gives every one of them ({Path.GetFileName(resultPath)})",
            "the quorum's tokens differ from this machine's generation");

        console.MarkupLine($"[grey]the same question, with node {liarIndex} ({liar}) in the quorum:[/]");
        try
        {
            await network.InferAsync(pushed.Cid, inputs, "quorum:3", new NetworkInferOptions { Include = [liar] }, ct);
            console.MarkupLine("[red]the quorum agreed although a member lies[/]");
            return (false, null);
        }
        catch (QuorumDisagreementException ex)
        {
            console.Write(InferCommand.Claims(ex.Answers, null));
            string evidencePath = Path.Combine(dir, "evidence-chat.json");
            ex.Evidence.Save(evidencePath);
            var lie = ex.Answers.FirstOrDefault(a => a.Receipt.Node == liar);
            if (lie is null)
            {
                return (DemoCommand.Check(console, false, "", "the lying node's answer is missing from the evidence"), null);
            }
            var check = EvidenceVerifier.Verify(File.ReadAllBytes(evidencePath), new ResultVerifierOptions { ModelPath = bundle });
            ok &= DemoCommand.PrintVerification(console, check.Checks, $"prova verify {Path.GetFileName(evidencePath)} --model models/lm");
            var (lieIds, _) = GenerationOutput.Read(lie.Outputs);
            int at = FirstDifference(local.Ids, lieIds);
            string Piece(int id) => lm.Tokenizer!.Decode([id]);
            if (at >= 0 && at < lieIds.Length && at < local.Ids.Length)
            {
                console.MarkupLine($"  [red bold]→ node {liarIndex} ({liar}) signed token #{at} = {lieIds[at]} ({Markup.Escape(Quoted(Piece(lieIds[at])))}); the model gives {local.Ids[at]} ({Markup.Escape(Quoted(Piece(local.Ids[at])))})[/]");
            }
            ok &= DemoCommand.Check(console, at >= 0 && check.IsValid && check.Liars.Count == 1 && check.Liars[0] == liar,
                $"the lying node is caught on a generation: one token, signed by itself ({Path.GetFileName(evidencePath)})", "the lying node was not identified");
            return (ok, new ChallengedLie(pushed.Cid, lie.Receipt, inputs));
        }
    }

    private static int FirstDifference(int[] expected, int[] actual)
    {
        int n = Math.Min(expected.Length, actual.Length);
        for (int i = 0; i < n; i++)
        {
            if (expected[i] != actual[i])
            {
                return i;
            }
        }
        return expected.Length == actual.Length ? -1 : n;
    }

    private static string Quoted(string piece) => "'" + piece.Replace("\n", "\\n", StringComparison.Ordinal) + "'";
}
