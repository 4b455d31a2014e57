// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base, console} from "./Base.sol";
import {Settlement} from "../src/Settlement.sol";
import {ProvaReceipts} from "../src/ProvaReceipts.sol";
import {InferenceRequests} from "../src/InferenceRequests.sol";
import {ExampleChatConsumer} from "../src/ExampleChatConsumer.sol";

/// Gas per inference amortised over batches (docs/benchmarks.md): postBatch + collectFees, each counted
/// as a transaction (execution gas measured here + 21,000 + calldata at 16/4 gas per non-zero/zero byte),
/// divided by the batch's receipt count. Measured with gasleft() inside a non-isolated forge test this is an upper
/// bound (cold-access and cheatcode overhead); docs/benchmarks.md quotes `forge test --gas-report --isolate`. The chain cost does not depend on the count: the receipts stay off
/// chain behind the Merkle root.
contract GasTest is Base {
    uint256 internal nodePk;
    address internal node;
    uint256 internal clientPk;
    address internal client;

    function setUp() public {
        vm.warp(1_700_000_000);
        deployAll(address(0), COMMITTEE);
        nodePk = key(0);
        node = registerNode(nodePk, 2 ether);
        clientPk = key(100);
        client = vm.addr(clientPk);
        vm.deal(client, 100 ether);
        vm.prank(client);
        settlement.deposit{value: 50 ether}();
        // Steady state: the node has been paid by this client before.
        bytes memory v = signVoucher(clientPk, node, 1 gwei);
        vm.prank(node);
        settlement.postBatch(keccak256("warm-up"), 1, client, 1 gwei, v);
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 g) {
        for (uint256 i = 0; i < data.length; i++) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    function _post(uint256 cumulative) internal returns (uint256 id, uint256 txGas) {
        bytes memory v = signVoucher(clientPk, node, cumulative);
        bytes32 root = keccak256(abi.encode("root", cumulative));
        bytes memory data = abi.encodeCall(Settlement.postBatch, (root, 10_000, client, cumulative, v));
        vm.prank(node);
        uint256 g0 = gasleft();
        id = settlement.postBatch(root, 10_000, client, cumulative, v);
        txGas = g0 - gasleft() + 21_000 + _calldataGas(data);
    }

    function _collect(uint256[] memory ids) internal returns (uint256 txGas) {
        bytes memory data = abi.encodeCall(Settlement.collectFees, (ids));
        vm.prank(node);
        uint256 g0 = gasleft();
        settlement.collectFees(ids);
        txGas = g0 - gasleft() + 21_000 + _calldataGas(data);
    }

    function test_GasPerInference() public {
        (uint256 id, uint256 postGas) = _post(1 ether);
        vm.warp(block.timestamp + WINDOW);
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        uint256 collectGas = _collect(ids);
        uint256 perBatch = postGas + collectGas;
        console.log("postBatch tx gas (with client voucher)", postGas);
        console.log("collectFees tx gas (one batch)", collectGas);
        console.log("gas per inference, batch of 1", perBatch);
        console.log("gas per inference, batch of 100", perBatch / 100);
        console.log("gas per inference, batch of 10000", perBatch / 10_000);
        // The goal: a few hundred gas or less per inference at scale.
        assertTrue(perBatch / 10_000 < 300, "under 300 gas per inference at 10,000 receipts");
        assertTrue(perBatch / 100 < 3_000, "under 3,000 gas per inference at 100 receipts");

        // Ten batches collected in one transaction.
        uint256[] memory many = new uint256[](10);
        for (uint256 i = 0; i < 10; i++) {
            (many[i],) = _post(2 ether + i);
        }
        vm.warp(block.timestamp + WINDOW);
        console.log("collectFees tx gas per batch, 10 batches at once", _collect(many) / 10);
    }

    function test_GasOfUnpaidBatch() public {
        bytes32 root = keccak256("free");
        bytes memory data = abi.encodeCall(Settlement.postBatch, (root, 100, address(0), 0, ""));
        vm.prank(node);
        uint256 g0 = gasleft();
        settlement.postBatch(root, 100, address(0), 0, "");
        console.log("postBatch tx gas (no client, no fee)", g0 - gasleft() + 21_000 + _calldataGas(data));
    }

    /// A chat turn through InferenceRequests: a 100-byte prompt asked by ExampleChatConsumer, answered with 32
    /// token ids and 128 bytes of text (stored by the consumer). Transaction gas as above.
    function test_GasOfGeneration() public {
        ExampleChatConsumer chat = new ExampleChatConsumer(requests);
        bytes memory prompt = new bytes(100);
        for (uint256 i = 0; i < prompt.length; i++) {
            prompt[i] = bytes1(uint8(97 + i % 26));
        }
        InferenceRequests.GenerationParams memory p = InferenceRequests.GenerationParams(32, 0, 0, 0x3f800000, 0x3f800000, 0);
        // Steady state: both consumers and the request counter have been written before.
        chat.ask(MODEL, prompt, p, "", "attested");
        consumer.ask(MODEL, INPUT, "", "uri", "attested");
        bytes memory askData = abi.encodeCall(ExampleChatConsumer.ask, (MODEL, prompt, p, "", "attested"));
        uint256 g0 = gasleft();
        bytes32 id = chat.ask{value: 0.01 ether}(MODEL, prompt, p, "", "attested");
        console.log("requestGeneration tx gas (100-byte prompt, via ExampleChatConsumer)", g0 - gasleft() + 21_000 + _calldataGas(askData));

        bytes memory text = new bytes(128);
        for (uint256 i = 0; i < text.length; i++) {
            text[i] = bytes1(uint8(97 + i % 26));
        }
        bytes memory output = abi.encodePacked(hex"020000000a0000006f75747075745f6964730701000000", hex"2000000000000000", new bytes(32 * 8));
        output = abi.encodePacked(output, hex"04000000746578740201000000", hex"8000000000000000", text);
        ProvaReceipts.Receipt[] memory rs = new ProvaReceipts.Receipt[](1);
        bytes[] memory sigs = new bytes[](1);
        rs[0] = ProvaReceipts.Receipt(MODEL, requests.getRequest(id).inputHash, sha256(output), "attested", id, node, uint64(block.timestamp), block.chainid);
        sigs[0] = signReceipt(nodePk, rs[0]);
        bytes memory fulfilData = abi.encodeCall(InferenceRequests.fulfil, (id, rs, sigs, output));
        g0 = gasleft();
        requests.fulfil(id, rs, sigs, output);
        console.log("fulfil tx gas (generation: 32 ids, 128-byte answer stored by the consumer)", g0 - gasleft() + 21_000 + _calldataGas(fulfilData));
        assertTrue(keccak256(bytes(chat.lastAnswer())) == keccak256(text), "answer stored");

        // The same bytes as a plain request and fulfilment (ExampleConsumer stores the whole output), for comparison.
        bytes memory input = requests.generationInput(prompt, p, "");
        askData = abi.encodeCall(consumer.ask, (MODEL, sha256(input), input, "", "attested"));
        g0 = gasleft();
        id = consumer.ask{value: 0.01 ether}(MODEL, sha256(input), input, "", "attested");
        console.log("request tx gas (the same bytes as a plain request, via ExampleConsumer)", g0 - gasleft() + 21_000 + _calldataGas(askData));
        rs[0] = ProvaReceipts.Receipt(MODEL, sha256(input), sha256(output), "attested", id, node, uint64(block.timestamp), block.chainid);
        sigs[0] = signReceipt(nodePk, rs[0]);
        fulfilData = abi.encodeCall(InferenceRequests.fulfil, (id, rs, sigs, output));
        g0 = gasleft();
        requests.fulfil(id, rs, sigs, output);
        console.log("fulfil tx gas (the same output as a plain request, stored whole)", g0 - gasleft() + 21_000 + _calldataGas(fulfilData));
    }
}
