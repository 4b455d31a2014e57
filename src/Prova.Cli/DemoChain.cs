using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Evm.Devnet;
using Prova.Lm;
using Prova.Node.Settlement;
using Prova.Runtime;
using Prova.Runtime.Generation;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// The chain part of <c>prova demo</c> (docs/devnet.md): a local anvil with the Prova contracts, the model
/// registered on ModelRegistry, a client paying the honest nodes with vouchers, the lying node's receipt
/// challenged and slashed by the committee, the honest nodes' fees collected after the window (anvil time
/// travel), and a contract getting an inference through InferenceRequests.
/// </summary>
internal sealed class DemoChain
{
    /// <summary>What the client pays each honest node (a cumulative voucher).</summary>
    public static readonly BigInteger Fee = SettlementParameters.Ether / 1000;

    private const int ModelOwnerKey = 2;
    private const int ClientKey = 3;
    private const int ChallengerKey = 4;
    private const int ConsumerKey = 5;

    private readonly IAnsiConsole _console;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private DemoChain(IAnsiConsole console, ChainDevnet chain)
    {
        _console = console;
        Component = chain;
    }

    public ChainDevnet Component { get; }

    private Anvil Anvil => Component.Anvil;

    private Deployment Deployment => Component.Deployment;

    /// <summary>A chain component for the demo devnet, or null (with a note saying how to install anvil) when anvil is missing.</summary>
    public static DemoChain? TryCreate(IAnsiConsole console)
    {
        if (Anvil.FindBinary() is null)
        {
            console.MarkupLine("[yellow]note:[/] anvil was not found, so the demo skips the on-chain part (settlement, slashing, fees, contract requests).");
            console.MarkupLine($"      install it with [deepskyblue1]scripts/setup.sh[/] (npm ci --prefix contracts), or point {Anvil.BinaryVariable} at an anvil binary.");
            return null;
        }
        // Short batches and polling so the story takes seconds; the challenge window is crossed by time travel.
        return new DemoChain(console, new ChainDevnet { BatchIntervalMs = 1000, ChainPollMs = 200 });
    }

    /// <summary>Waits for every node to register and stake, then prints the chain.</summary>
    public async Task ReadyAsync(Devnet devnet, CancellationToken ct)
    {
        await Component.WaitForNodesAsync(devnet.Nodes.Select(n => n.Address), TimeSpan.FromSeconds(60), ct);
        using var chain = Chain(0);
        var stake = await chain.StakeOfAsync(devnet.Nodes[0].Address);
        _console.MarkupLine($"[grey]chain[/]  anvil at {Anvil.Url.AbsoluteUri.TrimEnd('/')} (chain {Anvil.ChainId}): ModelRegistry, NodeRegistry, Settlement, InferenceRequests deployed");
        _console.MarkupLine($"[grey]       every node registered itself on NodeRegistry with a stake of {EthUnits.Format(stake)}; receipts are signed for Settlement {Deployment.Settlement}[/]");
    }

    /// <summary>Registers the model on ModelRegistry and has a client deposit escrow and send each honest node a voucher.</summary>
    public async Task<bool> RegisterAndPayAsync(Cid cid, string name, IEnumerable<DevnetNode> honest, CancellationToken ct)
    {
        bool registered = await RegisterAsync(cid, name, ct);

        using var client = Chain(ClientKey);
        await client.SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "deposit", SettlementParameters.Ether, ct);
        int accepted = 0;
        foreach (var node in honest)
        {
            var voucher = new Voucher { Client = client.Address, Node = node.Address, Cumulative = Fee }
                .SignWith(Anvil.DevKeys[ClientKey], Deployment.ChainId, Deployment.Settlement);
            using var response = await _http.PostAsync(new Uri(node.Url, "v1/settlement/vouchers"), new StringContent(voucher.ToJson(), Encoding.UTF8, "application/json"), ct);
            accepted += response.IsSuccessStatusCode ? 1 : 0;
        }
        _console.MarkupLine($"[grey]on chain[/] client {client.Address} deposits {EthUnits.Format(SettlementParameters.Ether)} in escrow; off chain it signs each honest node a voucher for {EthUnits.Format(Fee)}");
        return registered && accepted == honest.Count();
    }

    /// <summary>Registers a model on ModelRegistry (by the demo's model owner); true when the registry then knows it.</summary>
    public async Task<bool> RegisterAsync(Cid cid, string name, CancellationToken ct)
    {
        using var owner = Chain(ModelOwnerKey);
        await owner.SendAsync(ProvaContracts.ModelRegistry, Deployment.ModelRegistry, "register", 0, ct, cid.Digest.ToArray(), name);
        _console.MarkupLine($"[grey]on chain[/] ModelRegistry.register({cid.ToString()[..16]}…, \"{Markup.Escape(name)}\") by {owner.Address}");
        return (bool)(await owner.CallAsync(ProvaContracts.ModelRegistry, Deployment.ModelRegistry, "isRegistered", cid.Digest.ToArray()))[0]!;
    }

    /// <summary>Batches, the challenge of the lie, the slash, the fees and a contract's request.</summary>
    public async Task<bool> SettleAsync(Devnet devnet, int liarIndex, ChallengedLie challenged, Cid cid, string modelPath,
        IReadOnlyDictionary<string, Tensor> consumerInputs, CancellationToken ct)
    {
        var lie = challenged.Lie;
        var lieInputs = challenged.Inputs;
        bool generation = challenged.Model != cid;
        var liar = devnet.Nodes[liarIndex];
        var honest = devnet.Nodes.Where(n => n != liar).ToList();
        using var chain = Chain(0);
        bool ok = true;

        DemoCommand.Rule(_console, "9. settle on chain: receipts in Merkle batches, one root per batch");
        var clock = Stopwatch.StartNew();
        JsonElement? proof = null;
        bool batched = await WaitUntil(async () =>
        {
            using var response = await _http.GetAsync(new Uri(liar.Url, $"v1/settlement/receipts/{lie.RequestId}"), ct);
            if (response.IsSuccessStatusCode)
            {
                // Built first, then posted: the on-chain batch id appears once postBatch is mined.
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                proof = body.GetProperty("batchId").ValueKind == JsonValueKind.String ? body : null;
            }
            bool honestPosted = true;
            foreach (var n in honest)
            {
                var s = await StatusAsync(n, ct);
                honestPosted &= s.GetProperty("pendingReceipts").GetInt32() == 0 && s.GetProperty("batchesPosted").GetInt32() > 0;
            }
            return proof is not null && honestPosted;
        }, TimeSpan.FromSeconds(20), ct);
        var batches = new Table().Border(TableBorder.Rounded);
        batches.AddColumn("#");
        batches.AddColumn("node");
        batches.AddColumn(new TableColumn("batches posted").RightAligned());
        batches.AddColumn(new TableColumn("receipts waiting").RightAligned());
        foreach (var n in devnet.Nodes)
        {
            var s = await StatusAsync(n, ct);
            batches.AddRow(n.Index.ToString(CultureInfo.InvariantCulture), n.Address.ToString(),
                s.GetProperty("batchesPosted").GetInt32().ToString(CultureInfo.InvariantCulture), s.GetProperty("pendingReceipts").GetInt32().ToString(CultureInfo.InvariantCulture));
        }
        _console.Write(batches);
        ok &= DemoCommand.Check(_console, batched, $"every node posted its receipts as Settlement.postBatch(root, …) ({clock.Elapsed.TotalSeconds:F1} s)", "the receipts were not batched on chain");
        if (proof is not { } inclusion)
        {
            return false;
        }

        DemoCommand.Rule(_console, generation
            ? "10. challenge the generation lie on chain: the committee regenerates, the liar is slashed"
            : "10. challenge the lie on chain: the committee re-executes, the liar is slashed");
        var batchId = BigInteger.Parse(inclusion.GetProperty("batchId").GetString()!, CultureInfo.InvariantCulture);
        var siblings = inclusion.GetProperty("proof").EnumerateArray().Select(p => Hash256.Parse(p.GetString()!)).ToArray();
        using var challenger = Chain(ChallengerKey);
        var stakeBefore = await chain.StakeOfAsync(liar.Address);
        string inputUri = InputFetcher.DataUri(CanonicalTensors.Encode(lieInputs));
        clock.Restart();
        var (challengeId, _) = await challenger.ChallengeAsync(batchId, lie, siblings, inputUri, ct);
        var committee = await chain.CommitteeOfAsync(challengeId);
        _console.MarkupLine($"[grey]Settlement.challenge[/] batch {batchId} of node {liarIndex}, its signed receipt + a {siblings.Length}-step Merkle proof + the inputs (data: URI), bond {EthUnits.Format(Component.Parameters.ChallengeBond)}");
        _console.MarkupLine($"[grey]committee[/] (stake-weighted draw) {string.Join(", ", committee.Select(a => "node " + devnet.Nodes.First(n => n.Address == a).Index))}");
        bool slashed = await WaitUntil(async () => await chain.StakeOfAsync(liar.Address) < stakeBefore, TimeSpan.FromSeconds(30), ct);
        var stakeAfter = await chain.StakeOfAsync(liar.Address);
        var votes = new Table().Border(TableBorder.Rounded);
        votes.AddColumn("committee member");
        votes.AddColumn("vote (output hash it recomputed)");
        foreach (var member in committee)
        {
            var vote = new Hash256((byte[])(await chain.CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "voteOf", challengeId, member))[0]!);
            votes.AddRow($"node {devnet.Nodes.First(n => n.Address == member).Index}", vote == lie.OutputHash ? $"[red]{vote}[/]" : $"[green]{vote}[/]");
        }
        votes.AddRow($"[red]node {liarIndex} claimed[/]", $"[red]{lie.OutputHash}[/]");
        _console.Write(votes);
        bool active = await chain.IsActiveAsync(liar.Address);
        _console.MarkupLine($"stake of node {liarIndex}: [bold]{EthUnits.Format(stakeBefore)}[/] → [red bold]{EthUnits.Format(stakeAfter)}[/]{(active ? "" : " (below the minimum: no longer active)")}  [grey]({clock.Elapsed.TotalSeconds:F1} s)[/]");
        ok &= DemoCommand.Check(_console, slashed && stakeAfter < stakeBefore, $"verdict NodeLied: node {liarIndex} lost {EthUnits.Format(stakeBefore - stakeAfter)} of its stake", "the lying node was not slashed");

        DemoCommand.Rule(_console, "11. the honest nodes are paid after the challenge window");
        ulong window = Component.Parameters.ChallengeWindow;
        await Anvil.IncreaseTimeAsync(TimeSpan.FromSeconds(window + 1), ct);
        await Anvil.MineAsync(1, ct);
        _console.MarkupLine($"[grey]anvil time travel: evm_increaseTime {window + 1} s + evm_mine (the {window} s window is over)[/]");
        clock.Restart();
        bool paid = await WaitUntil(async () =>
        {
            foreach (var n in honest)
            {
                if (BigInteger.Parse((await StatusAsync(n, ct)).GetProperty("feesCollected").GetString()!, CultureInfo.InvariantCulture) < Fee)
                {
                    return false;
                }
            }
            return true;
        }, TimeSpan.FromSeconds(30), ct);
        var fees = new Table().Border(TableBorder.Rounded);
        fees.AddColumn("#");
        fees.AddColumn("node");
        fees.AddColumn(new TableColumn("stake").RightAligned());
        fees.AddColumn(new TableColumn("fees collected").RightAligned());
        foreach (var n in devnet.Nodes)
        {
            var collected = BigInteger.Parse((await StatusAsync(n, ct)).GetProperty("feesCollected").GetString()!, CultureInfo.InvariantCulture);
            var stake = await chain.StakeOfAsync(n.Address);
            fees.AddRow(n.Index.ToString(CultureInfo.InvariantCulture), n.Address.ToString(), n == liar ? $"[red]{EthUnits.Format(stake)}[/]" : EthUnits.Format(stake),
                n == liar ? $"[red]{EthUnits.Format(collected)}[/]" : $"[green]{EthUnits.Format(collected)}[/]");
        }
        _console.Write(fees);
        ok &= DemoCommand.Check(_console, paid, $"fees collected: each honest node received {EthUnits.Format(Fee)} from the client's escrow (Settlement.collectFees)", "the honest nodes' fees did not arrive");

        DemoCommand.Rule(_console, "12. a contract asks for an inference (InferenceRequests)");
        var consumerAccount = Anvil.Account(ConsumerKey);
        var consumer = await ChainDeployer.DeployAsync(consumerAccount, ProvaContracts.ExampleConsumer, [Deployment.InferenceRequests], ct);
        using var consumerChain = Chain(ConsumerKey);
        byte[] input = CanonicalTensors.Encode(consumerInputs);
        clock.Restart();
        await consumerChain.SendAsync(ProvaContracts.ExampleConsumer, consumer, "ask", SettlementParameters.Ether / 100, ct,
            cid.Digest.ToArray(), Receipt.HashTensors(consumerInputs).ToArray(), input, "", "attested");
        var requestId = new Hash256((byte[])(await consumerChain.CallAsync(ProvaContracts.ExampleConsumer, consumer, "lastRequestId"))[0]!);
        _console.MarkupLine($"[grey]ExampleConsumer {consumer}.ask(model, inputHash, {input.Length} input bytes, \"attested\") with {EthUnits.Format(SettlementParameters.Ether / 100)}: request {requestId.ToString()[..18]}…[/]");
        bool answered = await WaitUntil(async () => (bool)(await consumerChain.CallAsync(ProvaContracts.ExampleConsumer, consumer, "answered", requestId))[0]!, TimeSpan.FromSeconds(30), ct);
        var result = new Hash256((byte[])(await consumerChain.CallAsync(ProvaContracts.ExampleConsumer, consumer, "resultOf", requestId))[0]!);
        Hash256 local;
        using (var session = new InferenceSession(ModelRunner.LoadModel(modelPath), new SessionOptions { Threads = 1 }))
        {
            local = Receipt.HashTensors(session.Run(consumerInputs));
        }
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[grey]callback[/]", $"onInferenceResult after {clock.Elapsed.TotalSeconds:F1} s (a node saw InferenceRequested, ran the model, called fulfil)");
        grid.AddRow("[grey]on chain[/]", answered ? (result == local ? $"[green]{result}[/]" : $"[red]{result}[/]") : "[red]no answer[/]");
        grid.AddRow("[grey]this engine[/]", $"[green]{local}[/]");
        _console.Write(new Panel(grid).Header("the contract's output hash").Border(BoxBorder.Rounded));
        ok &= DemoCommand.Check(_console, answered && result == local, "consumer callback: the contract's output hash equals this machine's engine", "the consumer contract did not get the right answer");
        if (generation && DemoAssets.FindRepository() is { } root)
        {
            ok &= await AskLanguageModelAsync(challenged.Model, Path.Combine(root, "models", "lm"), ct);
        }
        return ok;
    }

    /// <summary>A contract asks the language model a question (InferenceRequests.requestGeneration) and gets the text back.</summary>
    private async Task<bool> AskLanguageModelAsync(Cid model, string bundle, CancellationToken ct)
    {
        const string Prompt = "The court";
        const uint MaxTokens = 12;
        var account = Anvil.Account(ConsumerKey);
        var consumer = await ChainDeployer.DeployAsync(account, ProvaContracts.ExampleChatConsumer, [Deployment.InferenceRequests], ct);
        using var chain = Chain(ConsumerKey);
        var clock = Stopwatch.StartNew();
        await chain.SendAsync(ProvaContracts.ExampleChatConsumer, consumer, "chat", SettlementParameters.Ether / 100, ct, model.Digest.ToArray(), Prompt, MaxTokens, "quorum:2");
        var requestId = new Hash256((byte[])(await chain.CallAsync(ProvaContracts.ExampleChatConsumer, consumer, "lastRequestId"))[0]!);
        _console.MarkupLine($"[grey]ExampleChatConsumer {consumer}.chat(lm/default, \"{Prompt}\", {MaxTokens} tokens, \"quorum:2\"): the contract builds the generation request on chain[/]");
        bool answered = await WaitUntil(async () => (bool)(await chain.CallAsync(ProvaContracts.ExampleChatConsumer, consumer, "answered", requestId))[0]!, TimeSpan.FromSeconds(60), ct);
        string text = answered ? (string)(await chain.CallAsync(ProvaContracts.ExampleChatConsumer, consumer, "lastAnswer"))[0]! : "";
        using var lm = LanguageModel.Load(bundle, threads: 1);
        string local = lm.Run(new GenerationRequest { PromptText = Prompt, MaxTokens = (int)MaxTokens, Sampling = new SamplingOptions() }).Text ?? "";
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[grey]callback[/]", $"onGenerationResult after {clock.Elapsed.TotalSeconds:F1} s (two nodes generated from the prompt, signed, one called fulfil)");
        grid.AddRow("[grey]on chain[/]", answered ? $"{Markup.Escape(Prompt)}[bold]{Markup.Escape(text)}[/]" : "[red]no answer[/]");
        grid.AddRow("[grey]this engine[/]", $"{Markup.Escape(Prompt)}[bold]{Markup.Escape(local)}[/]");
        _console.Write(new Panel(grid).Header("a contract asks the language model").Border(BoxBorder.Rounded));
        return DemoCommand.Check(_console, answered && text == local, "the contract received the text, token for token what this machine's engine writes", "the chat consumer did not get the right answer");
    }

    private SettlementChain Chain(int key) => new(Anvil.Client, Anvil.DevKeys[key], Deployment);

    private async Task<JsonElement> StatusAsync(DevnetNode node, CancellationToken ct) =>
        await _http.GetFromJsonAsync<JsonElement>(new Uri(node.Url, "v1/settlement"), ct);

    private static async Task<bool> WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                return false;
            }
            await Task.Delay(100, ct);
        }
        return true;
    }
}
