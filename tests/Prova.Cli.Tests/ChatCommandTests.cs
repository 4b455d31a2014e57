using System.Text.Json;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Sdk;

namespace Prova.Cli.Tests;

/// <summary>A real node with the default language model (models/lm) pushed with 'prova model push' as "cli/lm".</summary>
public sealed class ChatCliFixture : CliNodeFixture
{
    public static string ModelFolder => RepoFiles.Get("models", "lm");

    public string Cid { get; private set; } = "";

    protected override Task PrepareAsync()
    {
        Cid = Push(ModelFolder, "cli/lm");
        return Task.CompletedTask;
    }
}

/// <summary>
/// <c>prova chat</c> against a real node's OpenAI-compatible API: one-shot and conversation, the receipt summary, the
/// result file, and <c>prova verify</c> re-running the generation token by token (and failing on a tampered file).
/// </summary>
public sealed class ChatCommandTests(ChatCliFixture f) : IClassFixture<ChatCliFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private CliResult Chat(string prompt, string output, params string[] extra) =>
        CliHarness.Run(["chat", "cli/lm", "--node", f.Url, "--prompt", prompt, "-n", "8", "--seed", "5", "-o", output, .. extra]);

    [Fact]
    public void AOneShotAnswerIsStreamedItsReceiptSummarisedAndItsResultFileVerifiesByReExecution()
    {
        string path = _dir.File("r.json");
        var chat = Chat("Hello", path);
        Assert.True(chat.ExitCode == 0, chat.ToString());
        var result = ResultVerifier.Verify(File.ReadAllBytes(path)).Result!;
        var (ids, text) = GenerationOutput.Read(result.Outputs);
        Assert.Equal(8, ids.Length);
        Assert.Equal(text + Environment.NewLine, chat.Out);
        Assert.Contains($"receipt verified — node {result.Receipts[0].Node}", chat.Err, StringComparison.Ordinal);
        Assert.Contains($"mode attested, output hash {result.Receipts[0].OutputHash}, 8 tokens (prompt ", chat.Err, StringComparison.Ordinal);
        Assert.Equal(f.Cid, result.Model.ToString());

        var verify = CliHarness.Run("verify", path, "--model", ChatCliFixture.ModelFolder);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("re-execution", verify.Out, StringComparison.Ordinal);
        Assert.Contains("re-generated all 8 tokens identically", verify.Out, StringComparison.Ordinal);

        var unexecuted = CliHarness.Run("verify", path);
        Assert.Equal(0, unexecuted.ExitCode);
        Assert.True(unexecuted.Out.Contains("not re-executed (give --model DIR", StringComparison.Ordinal)
            || unexecuted.Out.Contains("re-generated all 8 tokens", StringComparison.Ordinal), unexecuted.ToString());

        var fromStore = CliHarness.Run("verify", path, "--store", f.Dir.File("node"), "--json");
        Assert.True(fromStore.ExitCode == 0, fromStore.ToString());
        var json = JsonDocument.Parse(fromStore.Out).RootElement;
        Assert.True(json.GetProperty("verified").GetBoolean());
        Assert.True(json.GetProperty("reexecuted").GetBoolean());
    }

    [Fact]
    public void ATamperedResultFileFailsAtTheSignedHashAndAReSignedLieAtTheTokenItChanged()
    {
        string path = _dir.File("r.json");
        Assert.Equal(0, Chat("The jury said", path, "--temperature", "0.9").ExitCode);
        var result = ResultVerifier.Verify(File.ReadAllBytes(path)).Result!;
        var (ids, text) = GenerationOutput.Read(result.Outputs);
        int honest = ids[6];
        ids[6] = honest == 0 ? 1 : honest - 1;
        var outputs = GenerationOutput.ToTensors(ids, text);

        string tampered = _dir.File("tampered.json");
        (result with { Outputs = outputs }).Save(tampered);
        var changed = CliHarness.Run("verify", tampered, "--model", ChatCliFixture.ModelFolder);
        Assert.Equal(1, changed.ExitCode);
        Assert.StartsWith("verification failed: outputs:", changed.Err, StringComparison.Ordinal);

        string lie = _dir.File("lie.json");
        var liar = PrivateKey.FromHex("0x" + new string('7', 64));
        (result with { Outputs = outputs, Receipts = [(result.Receipts[0] with { OutputHash = Receipt.HashTensors(outputs) }).SignWith(liar)] }).Save(lie);
        // The liar's receipt is genuine: only re-running the generation catches it.
        Assert.True(ResultVerifier.Verify(File.ReadAllBytes(lie)).IsValid);
        var caught = CliHarness.Run("verify", lie, "--model", ChatCliFixture.ModelFolder);
        Assert.Equal(1, caught.ExitCode);
        Assert.StartsWith($"verification failed: re-execution: token 6 differs: Prova's re-execution gives id {honest}, the result signs id {ids[6]}", caught.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AConversationKeepsItsHistoryAndEndsAtExitOrEndOfInput()
    {
        string path = _dir.File("last.json");
        var run = CliHarness.RunWithInput("Hello\n\nTell me more\n/exit\nnot read\n",
            "chat", "cli/lm", "--node", f.Url, "-n", "6", "--seed", "2", "--system", "Be brief.", "-o", path);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(2, run.Err.Split('\n').Count(l => l.Contains("receipt verified — node ", StringComparison.Ordinal)));
        // The last turn's request holds the whole conversation: the system message, both questions and the first answer.
        var last = ResultVerifier.Verify(File.ReadAllBytes(path)).Result!;
        var request = GenerationRequest.FromTensors(last.Inputs);
        string nl = Environment.NewLine;
        string lastAnswer = GenerationOutput.Read(last.Outputs).Text;
        Assert.EndsWith(nl + lastAnswer + nl, run.Out, StringComparison.Ordinal);
        string firstAnswer = run.Out[..^(lastAnswer.Length + 2 * nl.Length)];
        using var lm = LanguageModel.Load(ChatCliFixture.ModelFolder, threads: 1);
        var expected = lm.EncodeChat(
        [
            new Prova.Lm.Text.ChatMessage("system", "Be brief."),
            new Prova.Lm.Text.ChatMessage("user", "Hello"),
            new Prova.Lm.Text.ChatMessage("assistant", firstAnswer),
            new Prova.Lm.Text.ChatMessage("user", "Tell me more"),
        ]);
        Assert.Equal(expected, request.PromptIds);

        var ctrlD = CliHarness.RunWithInput("Hello\n", "chat", "cli/lm", "--node", f.Url, "-n", "3");
        Assert.True(ctrlD.ExitCode == 0, ctrlD.ToString());
        Assert.Single(ctrlD.Err.Split('\n'), l => l.Contains("receipt verified", StringComparison.Ordinal));
    }

    [Fact]
    public void CtrlCWhileAnAnswerStreamsStopsThatAnswerAndTheChatGoesOn()
    {
        // Ctrl+C is pressed the moment the first answer's first text reaches the terminal.
        var interrupts = new CliInterrupts();
        var stdout = new PressOnFirstWrite(interrupts);
        var stderr = new StringWriter();
        string path = _dir.File("after.json");
        int code = ProvaCli.Run(["chat", "cli/lm", "--node", f.Url, "-n", "60", "--seed", "4", "-o", path], stdout, stderr,
            new StringReader("Tell me a long story\nHello\n"), interrupts);
        var run = new CliResult(code, stdout.ToString(), stderr.ToString());
        Assert.True(code == 0, run.ToString());
        Assert.Contains("(stopped: that answer is not kept", run.Err, StringComparison.Ordinal);
        Assert.Single(run.Err.Split('\n'), l => l.Contains("receipt verified", StringComparison.Ordinal));

        // The stopped turn left the history: the second answer's signed prompt holds only the second question.
        var last = ResultVerifier.Verify(File.ReadAllBytes(path)).Result!;
        using var lm = LanguageModel.Load(ChatCliFixture.ModelFolder, threads: 1);
        Assert.Equal(lm.EncodeChat([new Prova.Lm.Text.ChatMessage("user", "Hello")]), GenerationRequest.FromTensors(last.Inputs).PromptIds);
        Assert.EndsWith(GenerationOutput.Read(last.Outputs).Text + Environment.NewLine, run.Out, StringComparison.Ordinal);
    }

    /// <summary>Standard output that presses Ctrl+C once, when the first non-empty text is written to it.</summary>
    private sealed class PressOnFirstWrite(CliInterrupts interrupts) : StringWriter
    {
        private bool _pressed;

        public override void Write(string? value)
        {
            base.Write(value);
            if (!_pressed && !string.IsNullOrEmpty(value) && value != Environment.NewLine)
            {
                _pressed = true;
                Assert.True(interrupts.Press(), "no answer was streaming to take Ctrl+C");
            }
        }
    }

    [Fact]
    public void JsonPrintsTheAnswerWithItsResult()
    {
        var run = CliHarness.Run("chat", f.Cid, "--node", f.Url, "--prompt", "Hi", "-n", "4", "--seed", "9", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var json = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal(4, json.GetProperty("usage").GetProperty("completionTokens").GetInt32());
        Assert.Equal(f.Cid, json.GetProperty("result").GetProperty("model").GetString());
        Assert.Equal("prova-result/1", json.GetProperty("result").GetProperty("format").GetString());
        var (_, text) = GenerationOutput.Read(ResultVerifier.Verify(System.Text.Encoding.UTF8.GetBytes(json.GetProperty("result").GetRawText())).Result!.Outputs);
        Assert.Equal(text, json.GetProperty("text").GetString());
    }

    [Fact]
    public void BadUsageAndNodeRefusalsExitTwoWithOneLine()
    {
        var cases = new (string[] Args, string Expected)[]
        {
            (["chat", "cli/lm", "--node", f.Url, "--prompt", "hi", "--mode", "quorum:1"], "mode 'quorum:1' is not 'attested' or 'quorum:K'"),
            (["chat", "no/model", "--node", f.Url, "--prompt", "hi"], "the model 'no/model' does not exist on this node"),
            (["chat", "cli/lm", "--node", f.Url, "--prompt", "hi", "-n", "100000"], "max_tokens 100000 is above this node's limit"),
            (["chat", "cli/lm", "--node", f.Url, "--json"], "--json needs --prompt"),
            (["chat", "cli/lm", "--node", f.Url, "--prompt", "hi", "-n", "0"], "--max-tokens must be at least 1"),
            (["chat", "cli/lm", "--node", "http://127.0.0.1:1", "--prompt", "hi"], "cannot reach node"),
        };
        foreach (var (args, expected) in cases)
        {
            var run = CliHarness.Run(args);
            Assert.True(run.ExitCode == 2, $"{string.Join(' ', args)}: {run}");
            Assert.StartsWith("error: ", run.Err, StringComparison.Ordinal);
            Assert.Contains(expected, run.Err, StringComparison.Ordinal);
            Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }
}

/// <summary><c>prova chat --mode quorum:3</c> on a real 3-node network in this process where one node swaps a token and signs anyway.</summary>
public sealed class ChatQuorumCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ADisagreeingQuorumExitsOneAndItsEvidenceNamesTheLyingNode()
    {
        await using var cluster = await Prova.Node.Hosting.LocalCluster.StartAsync(3, (i, o) =>
        {
            if (i == 1)
            {
                o.Faults = "corrupt-output";
            }
        }, Microsoft.Extensions.Logging.LogLevel.None);
        var owner = PrivateKey.Generate();
        Prova.Core.Content.Cid cid = default;
        foreach (var node in cluster.Nodes)
        {
            using var client = new ProvaClient(node.Url);
            cid = (await client.PushDirectoryAsync(ChatCliFixture.ModelFolder, new PushOptions { Name = "q/lm" }, owner)).Cid;
        }
        await cluster.WaitForFullMeshAsync(TimeSpan.FromSeconds(20));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!cluster.Nodes.All(n => n.Peers().Count(p => p.Record.Models.Contains(cid)) == 2))
        {
            Assert.True(DateTime.UtcNow < deadline, "the nodes did not learn that every peer hosts the model within 20 s");
            await Task.Delay(50);
        }

        string evidence = _dir.File("evidence.json");
        var chat = CliHarness.Run("chat", "q/lm", "--node", cluster[0].Url.AbsoluteUri, "--mode", "quorum:3", "--prompt", "Hello", "-n", "5",
            "--seed", "3", "--evidence", evidence, "-o", _dir.File("r.json"));
        Assert.True(chat.ExitCode == 1, chat.ToString());
        Assert.Contains("verification failed: quorum: the 3 nodes of the quorum:3 quorum disagreed", chat.Err, StringComparison.Ordinal);
        Assert.Contains($"evidence written to {evidence}", chat.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("r.json")));

        var verify = CliHarness.Run("verify", evidence, "--model", ChatCliFixture.ModelFolder);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains($"✗ node {cluster[1].Address} lied", verify.Out, StringComparison.Ordinal);
        Assert.DoesNotContain($"node {cluster[0].Address} lied", verify.Out, StringComparison.Ordinal);
        var json = JsonDocument.Parse(CliHarness.Run("verify", evidence, "--model", ChatCliFixture.ModelFolder, "--json").Out).RootElement;
        Assert.Equal([cluster[1].Address.ToString()], json.GetProperty("liars").EnumerateArray().Select(e => e.GetString()));

        // 'prova challenge' checks the evidence the same way (the folder re-runs the generation) before it looks at the chain.
        string missing = _dir.File("no-deployment.json");
        var challenge = CliHarness.Run("challenge", evidence, "--model", ChatCliFixture.ModelFolder, "--chain", "http://127.0.0.1:1", "--deployment", missing);
        Assert.Equal(2, challenge.ExitCode);
        Assert.Contains($"deployment file '{missing}' does not exist", challenge.Err, StringComparison.Ordinal);
    }
}
