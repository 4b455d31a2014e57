using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Prova.Node.Store;

namespace Prova.Node.Tests;

/// <summary>Issue #14, defect 7: look-alike names cannot stand next to another owner's model (docs/network.md, "Model names").</summary>
public sealed class ModelNameTests : IDisposable
{
    private readonly NodeFactory _factory = new();
    private readonly TestClient _client;

    public ModelNameTests()
    {
        _client = new TestClient(_factory.CreateClient());
    }

    public void Dispose() => _factory.Dispose();

    [Theory]
    [InlineData("FASHION-CNN")]
    [InlineData("fashion-cnn/")]
    [InlineData("Fashion-Cnn")]
    [InlineData("fashion--cnn")]
    [InlineData("/fashion-cnn")]
    [InlineData("\uFF46\uFF41\uFF53\uFF48\uFF49\uFF4F\uFF4E-\uFF43\uFF4E\uFF4E")] // fullwidth "ｆａｓｈｉｏｎ-ｃｎｎ", NFKC folds it to ASCII
    [InlineData("\uD835\uDC1Fashion-cnn")] // mathematical bold capital F
    public async Task A_look_alike_of_another_owners_name_is_refused_naming_the_existing_model(string lookAlike)
    {
        await _client.PushAsync(TestModels.Mlp(), "fashion-cnn");
        var other = (await _client.UploadAsync(TestModels.Mlp(seed: 99))).Cid;

        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(other, lookAlike, owner: TestClient.Stranger), 422, "invalid-publication");
        string detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("is not in normal form; use 'fashion-cnn'", detail);
        Assert.Contains($"the model 'fashion-cnn' is {TestClient.Owner.Address}'s, so the name is taken", detail);

        // The normal form itself is the owner's.
        await TestClient.ExpectProblem(await _client.PublishAsync(other, "fashion-cnn", "2.0.0", owner: TestClient.Stranger), 403, "name-owned");
        var list = await _client.Http.GetStringAsync("/v1/models");
        Assert.DoesNotContain(other.ToString(), list);
    }

    [Fact]
    public async Task A_name_without_a_normal_form_is_refused_with_the_rule()
    {
        var cid = (await _client.UploadAsync(TestModels.Mlp())).Cid;
        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(cid, "fashion cnn"), 422, "invalid-publication");
        Assert.Equal("the model name 'fashion cnn' has no normal form (spaces are not allowed); a name is " + Core.Content.ModelName.Rule, problem.GetProperty("detail").GetString());
        problem = await TestClient.ExpectProblem(await _client.PublishAsync(cid, "fashion\u0441nn"), 422, "invalid-publication"); // Cyrillic с
        Assert.Contains("character U+0441 is not allowed", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_normal_name_is_accepted_and_its_owner_publishes_new_versions_of_it()
    {
        await _client.PushAsync(TestModels.Mlp(), "acme/fashion-cnn.v2");
        var v2 = (await _client.UploadAsync(TestModels.Mlp(seed: 99))).Cid;
        await TestClient.Expect(await _client.PublishAsync(v2, "acme/fashion-cnn.v2", "2.0.0"), HttpStatusCode.Created);

        // The owner's own look-alike is refused too (names are never rewritten), with a pointer to the model they publish.
        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(v2, "ACME/fashion-cnn.v2", "3.0.0"), 422, "invalid-publication");
        Assert.Contains("you already publish the model 'acme/fashion-cnn.v2'", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_look_alike_stored_before_names_were_normalised_still_blocks_another_owner()
    {
        var legacy = await _client.UploadAsync(TestModels.Mlp());
        var catalog = _factory.Services.GetRequiredService<ModelCatalog>();
        catalog.TryInsert(new ModelInfo(legacy.Cid.ToString(), "Fashion-CNN", "1.0.0", "", "", TestClient.Owner.Address.ToString(), 1, "0x", 0, 0, 0, 17, [], [], DateTimeOffset.UnixEpoch));
        var other = (await _client.UploadAsync(TestModels.Mlp(seed: 99))).Cid;

        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(other, "fashion-cnn", owner: TestClient.Stranger), 403, "name-owned");
        Assert.Equal($"the name 'fashion-cnn' is a look-alike of the model 'Fashion-CNN' of {TestClient.Owner.Address} (the same normal form); only its owner can publish under it", problem.GetProperty("detail").GetString());
        Assert.Equal("Fashion-CNN", problem.GetProperty("existing").GetString());

        // Its owner can still move to the normal name.
        await TestClient.Expect(await _client.PublishAsync(other, "fashion-cnn", "2.0.0"), HttpStatusCode.Created);
    }
}
