// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProvaReceipts} from "../src/ProvaReceipts.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {Settlement} from "../src/Settlement.sol";
import {InferenceRequests} from "../src/InferenceRequests.sol";
import {ExampleConsumer} from "../src/ExampleConsumer.sol";

/// @dev The forge cheatcodes these tests use (no forge-std: everything here is written for Prova).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256) external;
    function roll(uint256) external;
    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function deal(address, uint256) external;
    function addr(uint256) external pure returns (address);
    function sign(uint256, bytes32) external pure returns (uint8, bytes32, bytes32);
    function expectRevert(bytes calldata) external;
    function expectRevert(bytes4) external;
    function expectRevert() external;
    function assume(bool) external pure;
    function prevrandao(bytes32) external;
    function chainId(uint256) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function eip712HashTypedData(string calldata) external pure returns (bytes32);
    function toString(uint256) external pure returns (string memory);
    function toString(bytes32) external pure returns (string memory);
    function toString(address) external pure returns (string memory);
}

library console {
    address constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory s, uint256 v) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", s, v));
        ok;
    }

    function log(string memory s) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string)", s));
        ok;
    }
}

/// @dev Sorted-pair Merkle tree with odd-node promotion (the Prova batch rule), for building test batches.
library MerkleTree {
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length > 0, "empty");
        bytes32[] memory level = leaves;
        while (level.length > 1) level = _up(level);
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        bytes32[] memory buf = new bytes32[](64);
        uint256 n;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buf[n++] = level[sibling];
            level = _up(level);
            index /= 2;
        }
        p = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) p[i] = buf[i];
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i = 0; i < next.length; i++) {
            next[i] = 2 * i + 1 < level.length ? ProvaReceipts.hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
        }
    }
}

/// @dev Exposes the library's calldata functions to tests.
contract ReceiptsHarness {
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return ProvaReceipts.verify(proof, root, leaf);
    }

    function recover(bytes32 hash, bytes calldata signature) external pure returns (address) {
        return ProvaReceipts.recover(hash, signature);
    }
}

abstract contract Base {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // Parameters of the test deployment (docs/settlement.md lists the defaults the devnet uses).
    uint256 internal constant MIN_STAKE = 1 ether;
    uint64 internal constant UNBONDING_DELAY = 10 days;
    uint64 internal constant WINDOW = 1 days;
    uint64 internal constant VOTING = 1 days;
    uint64 internal constant ESCROW_DELAY = 2 days;
    uint256 internal constant BOND = 0.1 ether;
    uint16 internal constant SLASH_BPS = 5000;
    uint16 internal constant CHALLENGER_BPS = 4000;
    uint16 internal constant COMMITTEE_BPS = 1000;
    uint8 internal constant COMMITTEE = 3;

    ModelRegistry internal models;
    NodeRegistry internal nodes;
    Settlement internal settlement;
    InferenceRequests internal requests;
    ExampleConsumer internal consumer;

    bytes32 internal constant MODEL = keccak256("model");
    bytes32 internal constant INPUT = keccak256("input");
    bytes32 internal constant OUTPUT = keccak256("output");

    function deployAll(address treasury, uint8 committeeSize) internal {
        models = new ModelRegistry();
        nodes = new NodeRegistry(MIN_STAKE, UNBONDING_DELAY);
        settlement = new Settlement(
            nodes, treasury, WINDOW, VOTING, ESCROW_DELAY, BOND, SLASH_BPS, CHALLENGER_BPS, COMMITTEE_BPS, committeeSize
        );
        nodes.setSettlement(address(settlement));
        requests = new InferenceRequests(nodes, models, address(settlement), 1 hours, 500_000);
        consumer = new ExampleConsumer(requests);
        models.register(MODEL, "test-model");
    }

    function key(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("prova-node", i))) % (SECP256K1_N - 1) + 1;
    }

    function registerNode(uint256 pk, uint256 stake) internal returns (address node) {
        node = vm.addr(pk);
        vm.deal(node, node.balance + stake);
        bytes32[] memory served = new bytes32[](1);
        served[0] = MODEL;
        vm.prank(node);
        nodes.register{value: stake}("http://127.0.0.1:1", served);
    }

    function receipt(address node, bytes32 requestId, bytes32 outputHash)
        internal
        view
        returns (ProvaReceipts.Receipt memory r)
    {
        r = ProvaReceipts.Receipt({
            model: MODEL,
            inputHash: INPUT,
            outputHash: outputHash,
            mode: "attested",
            requestId: requestId,
            node: node,
            timestamp: uint64(block.timestamp),
            chainId: block.chainid
        });
    }

    function digestOf(ProvaReceipts.Receipt memory r) internal view returns (bytes32) {
        return settlement.receiptDigest(r);
    }

    function signDigest(uint256 pk, bytes32 d) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, d);
        return abi.encodePacked(r, s, v);
    }

    function signReceipt(uint256 pk, ProvaReceipts.Receipt memory r) internal view returns (bytes memory) {
        return signDigest(pk, digestOf(r));
    }

    /// @dev The same signature with s' = n - s and the other v: valid for ecrecover, but malleable.
    function highS(bytes memory sig) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    function signVoucher(uint256 clientPk, address node, uint256 cumulative) internal view returns (bytes memory) {
        return signDigest(clientPk, settlement.voucherDigest(vm.addr(clientPk), node, cumulative));
    }

    // ---- assertions (revert with a message naming both values) ----

    function assertTrue(bool c, string memory what) internal pure {
        require(c, what);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bool a, bool b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": bool mismatch"));
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
