// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base, console} from "./Base.sol";
import {Settlement} from "../src/Settlement.sol";

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
}
