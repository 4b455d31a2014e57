using Prova.Lm.Text;

namespace Prova.Lm.Tests.Text;

public sealed class BundleEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-lm-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void QwenBundleRendersItsTemplateAndEncodesEveryChatMarkerAsOneId()
    {
        var config = BundleConfig.Load(TokenizerFixtures.Qwen3Dir);
        var tok = LmTokenizer.Load(config);
        var template = ChatTemplate.FromConfig(config.Tokenizer);
        ChatMessage[] chat = [new("system", "Be brief."), new("user", "Hi 😀"), new("assistant", "Hello!"), new("user", "2+2?")];
        var prompt = template.Render(chat, addGenerationPrompt: true, ChatTemplateOptions.From(config.Tokenizer));
        Assert.EndsWith("<|im_start|>assistant\n", prompt);

        var ids = tok.Encode(prompt, addSpecial: true);
        var start = tok.TokenId("<|im_start|>")!.Value;
        var end = tok.TokenId("<|im_end|>")!.Value;
        Assert.Equal(chat.Length + 1, ids.Count(id => id == start));
        Assert.Equal(chat.Length, ids.Count(id => id == end));
        Assert.Contains(end, tok.EosIds);
        Assert.Equal(prompt, tok.Decode(ids, skipSpecial: false));
    }

    [Fact]
    public void ATokenizerModelOnlyBundleEncodesLikeTheReference()
    {
        // The SentencePiece model Prova writes for the byte-fallback tokenizer.json, saved as a bundle's only tokenizer
        // file: the tokenizer.model path must give the reference ids, with BOS from tokenizer_config.json.
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(TokenizerFixtures.Llama2Dir, "tokenizer.json")));
        File.WriteAllBytes(Path.Combine(_dir, "tokenizer.model"), SentencePieceModelWriter.FromBpeJson(json.RootElement));
        File.Copy(Path.Combine(TokenizerFixtures.Llama2Dir, "tokenizer_config.json"), Path.Combine(_dir, "tokenizer_config.json"));
        var tok = LmTokenizer.Load(_dir);
        Assert.Equal(1, tok.BosId);
        foreach (var (text, ids, idsWithSpecial) in TokenizerFixtures.Golden("llama2"))
        {
            Assert.Equal(ids, tok.Encode(text, addSpecial: false));
            Assert.Equal(idsWithSpecial, tok.Encode(text, addSpecial: true));
        }
    }
}
