// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {ProvaReceipts} from "../src/ProvaReceipts.sol";
import {InferenceRequests} from "../src/InferenceRequests.sol";
import {IProvaConsumer} from "../src/IProvaConsumer.sol";

contract RevertingConsumer is IProvaConsumer {
    function onInferenceResult(bytes32, bytes32, bytes calldata) external pure {
        revert("no thanks");
    }

    function ask(InferenceRequests p, bytes32 model, bytes32 inputHash, bytes calldata input)
        external
        payable
        returns (bytes32)
    {
        return p.request{value: msg.value}(model, inputHash, input, "", "attested");
    }
}

contract InferenceRequestsTest is Base {
    uint256[3] internal pks;
    address[3] internal ns;
    bytes internal constant INPUT_BYTES = hex"0102030405";
    bytes internal constant OUTPUT_BYTES = hex"0a0b0c";

    function setUp() public {
        vm.warp(1_700_000_000);
        deployAll(address(0), COMMITTEE);
        for (uint256 i = 0; i < 3; i++) {
            pks[i] = key(i);
            ns[i] = registerNode(pks[i], 1 ether);
        }
        // Sort by address: fulfil() needs receipts in ascending node order.
        for (uint256 i = 0; i < 3; i++) {
            for (uint256 j = i + 1; j < 3; j++) {
                if (ns[j] < ns[i]) {
                    (ns[i], ns[j]) = (ns[j], ns[i]);
                    (pks[i], pks[j]) = (pks[j], pks[i]);
                }
            }
        }
    }

    function _ask(string memory mode, uint256 fee) internal returns (bytes32 id) {
        id = consumer.ask{value: fee}(MODEL, sha256(INPUT_BYTES), INPUT_BYTES, "", mode);
    }

    function _receipt(uint256 i, bytes32 id, bytes32 out, string memory mode)
        internal
        view
        returns (ProvaReceipts.Receipt memory r)
    {
        r = ProvaReceipts.Receipt(MODEL, sha256(INPUT_BYTES), out, mode, id, ns[i], uint64(block.timestamp), block.chainid);
    }

    function _one(ProvaReceipts.Receipt memory r, uint256 pk)
        internal
        view
        returns (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs)
    {
        rs = new ProvaReceipts.Receipt[](1);
        sigs = new bytes[](1);
        rs[0] = r;
        sigs[0] = signReceipt(pk, r);
    }

    function test_AttestedRequestIsFulfilledAndCalledBack() public {
        bytes32 id = _ask("attested", 0.01 ether);
        assertEq(consumer.lastRequestId(), id, "consumer kept id");
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _one(_receipt(0, id, sha256(OUTPUT_BYTES), "attested"), pks[0]);
        uint256 before = ns[0].balance;
        vm.prank(address(0xFEE)); // anyone may relay the node's receipt
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
        assertEq(ns[0].balance - before, 0.01 ether, "fee to node");
        assertTrue(consumer.answered(id), "callback ran");
        assertEq(consumer.resultOf(id), sha256(OUTPUT_BYTES), "output hash delivered");
        assertTrue(keccak256(consumer.outputOf(id)) == keccak256(OUTPUT_BYTES), "output delivered");
        InferenceRequests.Request memory q = requests.getRequest(id);
        assertTrue(q.status == InferenceRequests.Status.Fulfilled, "fulfilled");
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotPending.selector, id));
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
    }

    function test_HashOnlyFulfilment() public {
        bytes32 id = _ask("attested", 0);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) = _one(_receipt(0, id, OUTPUT, "attested"), pks[0]);
        requests.fulfil(id, rs, sigs, "");
        assertEq(consumer.resultOf(id), OUTPUT, "hash delivered without bytes");
    }

    function test_RequestValidation() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.UnknownModel.selector, keccak256("nope")));
        requests.request(keccak256("nope"), INPUT, "", "uri", "attested");
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.InputHashMismatch.selector, sha256(INPUT_BYTES), INPUT));
        requests.request(MODEL, INPUT, INPUT_BYTES, "", "attested");
        vm.expectRevert(InferenceRequests.NoInput.selector);
        requests.request(MODEL, INPUT, "", "", "attested");
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.UnsupportedMode.selector, "quorum:1"));
        requests.request(MODEL, INPUT, "", "uri", "quorum:1");
        bytes memory big = new bytes(64 * 1024 + 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.InputTooLarge.selector, big.length));
        requests.request(MODEL, INPUT, big, "", "attested");
        bytes32 id = requests.request(MODEL, INPUT, "", "http://input", "proof");
        assertEq(requests.getRequest(id).quorum, 1, "proof mode needs one receipt");
    }

    function test_FulfilRejectsMismatchedReceipts() public {
        bytes32 id = _ask("attested", 0);
        ProvaReceipts.Receipt memory r = _receipt(0, id, OUTPUT, "attested");
        ProvaReceipts.Receipt[] memory rs;
        bytes[] memory sigs;

        r.requestId = keccak256("other");
        (rs, sigs) = _one(r, pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.ReceiptMismatch.selector, 0));
        requests.fulfil(id, rs, sigs, "");
        r.requestId = id;

        r.model = keccak256("other model");
        (rs, sigs) = _one(r, pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.ReceiptMismatch.selector, 0));
        requests.fulfil(id, rs, sigs, "");
        r.model = MODEL;

        r.mode = "proof";
        (rs, sigs) = _one(r, pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.ReceiptMismatch.selector, 0));
        requests.fulfil(id, rs, sigs, "");
        r.mode = "attested";

        r.chainId = 1;
        (rs, sigs) = _one(r, pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.WrongChain.selector, 1));
        requests.fulfil(id, rs, sigs, "");
        r.chainId = block.chainid;

        (rs, sigs) = _one(r, pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.OutputHashMismatch.selector, sha256(OUTPUT_BYTES), OUTPUT));
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
    }

    function test_FulfilRejectsBadSignaturesAndUnstakedNodes() public {
        bytes32 id = _ask("attested", 0);
        ProvaReceipts.Receipt memory r = _receipt(0, id, OUTPUT, "attested");
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) = _one(r, key(42));
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.BadSigner.selector, vm.addr(key(42)), ns[0]));
        requests.fulfil(id, rs, sigs, "");

        (rs, sigs) = _one(r, pks[0]);
        sigs[0] = highS(sigs[0]);
        vm.expectRevert(ProvaReceipts.HighS.selector);
        requests.fulfil(id, rs, sigs, "");

        // A validly signed receipt from a key that never staked.
        r.node = vm.addr(key(42));
        (rs, sigs) = _one(r, key(42));
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotActiveNode.selector, r.node));
        requests.fulfil(id, rs, sigs, "");
    }

    function test_QuorumNeedsAgreeingDistinctNodes() public {
        bytes32 id = _ask("quorum:2", 0.03 ether);
        ProvaReceipts.Receipt[] memory rs = new ProvaReceipts.Receipt[](2);
        bytes[] memory sigs = new bytes[](2);
        rs[0] = _receipt(0, id, OUTPUT, "quorum:2");
        rs[1] = _receipt(1, id, OUTPUT, "quorum:2");
        sigs[0] = signReceipt(pks[0], rs[0]);
        sigs[1] = signReceipt(pks[1], rs[1]);

        (ProvaReceipts.Receipt[] memory one, bytes[] memory oneSig) = _one(rs[0], pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.WrongReceiptCount.selector, 1, 2));
        requests.fulfil(id, one, oneSig, "");

        ProvaReceipts.Receipt[] memory dup = new ProvaReceipts.Receipt[](2);
        bytes[] memory dupSigs = new bytes[](2);
        (dup[0], dup[1], dupSigs[0], dupSigs[1]) = (rs[0], rs[0], sigs[0], sigs[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NodesNotAscending.selector, 1));
        requests.fulfil(id, dup, dupSigs, "");

        ProvaReceipts.Receipt memory disagree = _receipt(1, id, WRONG_OUTPUT, "quorum:2");
        ProvaReceipts.Receipt[] memory mixed = new ProvaReceipts.Receipt[](2);
        bytes[] memory mixedSigs = new bytes[](2);
        (mixed[0], mixed[1]) = (rs[0], disagree);
        (mixedSigs[0], mixedSigs[1]) = (sigs[0], signReceipt(pks[1], disagree));
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.ReceiptMismatch.selector, 1));
        requests.fulfil(id, mixed, mixedSigs, "");

        uint256 b0 = ns[0].balance;
        uint256 b1 = ns[1].balance;
        requests.fulfil(id, rs, sigs, "");
        assertEq(ns[0].balance - b0, 0.015 ether, "half the fee");
        assertEq(ns[1].balance - b1, 0.015 ether, "half the fee");
        assertEq(consumer.resultOf(id), OUTPUT, "delivered");
    }

    bytes32 internal constant WRONG_OUTPUT = keccak256("wrong");

    function test_RevertingCallbackDoesNotBlockPayment() public {
        RevertingConsumer rc = new RevertingConsumer();
        bytes32 id = rc.ask{value: 1 ether}(requests, MODEL, sha256(INPUT_BYTES), INPUT_BYTES);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) = _one(_receipt(0, id, OUTPUT, "attested"), pks[0]);
        uint256 before = ns[0].balance;
        requests.fulfil(id, rs, sigs, "");
        assertEq(ns[0].balance - before, 1 ether, "node paid");
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Fulfilled, "fulfilled");
    }

    function test_CancelAfterTimeoutRefunds() public {
        bytes32 id = _ask("attested", 0.5 ether);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotConsumer.selector, address(this)));
        requests.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotExpired.selector, uint64(block.timestamp + 1 hours)));
        consumer.cancel(id);
        vm.warp(block.timestamp + 1 hours);
        uint256 before = address(this).balance;
        consumer.cancel(id);
        assertEq(address(this).balance - before, 0.5 ether, "refund reached the consumer's owner");
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) = _one(_receipt(0, id, OUTPUT, "attested"), pks[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotPending.selector, id));
        requests.fulfil(id, rs, sigs, "");
    }

    function test_OnlyProvaCallsTheConsumer() public {
        vm.expectRevert();
        consumer.onInferenceResult(bytes32(0), OUTPUT, "");
    }

    /// parseMode accepts exactly "attested", "proof" and "quorum:2".."quorum:16".
    function testFuzz_ParseMode(uint8 k, bytes8 junk) public view {
        uint256 q = bound(k, 0, 30);
        string memory mode = string.concat("quorum:", vm.toString(q));
        if (q >= 2 && q <= 16) {
            assertEq(requests.parseMode(mode), q, "quorum size");
        } else {
            try requests.parseMode(mode) returns (uint8) {
                revert("accepted an invalid quorum");
            } catch {}
        }
        string memory j = string(abi.encodePacked(junk));
        try requests.parseMode(j) returns (uint8) {
            revert("accepted junk");
        } catch {}
    }

    receive() external payable {}
}
