// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base, Vm} from "./Base.sol";
import {ProvaReceipts} from "../src/ProvaReceipts.sol";
import {InferenceRequests} from "../src/InferenceRequests.sol";
import {ExampleChatConsumer} from "../src/ExampleChatConsumer.sol";
import {IProvaGenerationConsumer} from "../src/IProvaGenerationConsumer.sol";

contract RevertingChatConsumer is IProvaGenerationConsumer {
    function onGenerationResult(bytes32, bytes32, string calldata) external pure {
        revert("no thanks");
    }

    function ask(InferenceRequests p, bytes32 model, InferenceRequests.GenerationParams calldata params)
        external
        payable
        returns (bytes32)
    {
        return p.requestGeneration{value: msg.value}(model, "hi", params, "", "attested");
    }
}

/// Burns all the gas it gets and returns a huge buffer: must cost the fulfiller no more than callbackGasLimit.
contract GreedyChatConsumer is IProvaGenerationConsumer {
    function onGenerationResult(bytes32, bytes32, string calldata) external pure {
        assembly {
            return(0, 1000000000)
        }
    }

    function ask(InferenceRequests p, bytes32 model, InferenceRequests.GenerationParams calldata params)
        external
        returns (bytes32)
    {
        return p.requestGeneration(model, "hi", params, "", "attested");
    }
}

/// The request and output vectors are pinned by tests/Prova.Core.Tests/GenerationVectorTests.cs, which encodes the
/// same tensors with Prova.Core.TensorEncoding: the node and the contract agree on these bytes.
contract GenerationTest is Base {
    uint256[3] internal pks;
    address[3] internal ns;
    ExampleChatConsumer internal chat;

    bytes internal constant PROMPT = "Hi, Prova \xe2\x9c\x93"; // "Hi, Prova ✓"
    bytes internal constant STOP = "\n\n\x00User:\x00";
    bytes internal constant REQUEST_BYTES =
        hex"080000000a0000006d61785f746f6b656e73070000000020000000000000000600000070726f6d707402010000000d0000000000000048692c2050726f766120e29c931200000072657065746974696f6e5f70656e616c74790100000000cdcc8c3f04000000736565640d00000000efcdab89674523010400000073746f70020100000009000000000000000a0a00557365723a000b00000074656d706572617475726501000000003333333f05000000746f705f6b0700000000280000000000000005000000746f705f7001000000006666663f";
    bytes32 internal constant REQUEST_SHA256 = 0x0a369b055633f91d465c546616925b0afb63cce51d8deba26dcd4c808f9dd2cf;
    // output_ids [9906, 11, 1917, 2] · text "Hello, world ✓"
    bytes internal constant OUTPUT_BYTES =
        hex"020000000a0000006f75747075745f69647307010000000400000000000000b2260000000000000b000000000000007d07000000000000020000000000000004000000746578740201000000100000000000000048656c6c6f2c20776f726c6420e29c93";
    bytes32 internal constant OUTPUT_SHA256 = 0xc56bf8b10f17026c8323187308e110113b6aaa9ad647b214cc7f27a1c11c734f;
    string internal constant TEXT = "Hello, world \xe2\x9c\x93";

    function setUp() public {
        vm.warp(1_700_000_000);
        deployAll(address(0), COMMITTEE);
        chat = new ExampleChatConsumer(requests);
        for (uint256 i = 0; i < 3; i++) {
            pks[i] = key(i);
            ns[i] = registerNode(pks[i], 1 ether);
        }
        for (uint256 i = 0; i < 3; i++) {
            for (uint256 j = i + 1; j < 3; j++) {
                if (ns[j] < ns[i]) {
                    (ns[i], ns[j]) = (ns[j], ns[i]);
                    (pks[i], pks[j]) = (pks[j], pks[i]);
                }
            }
        }
    }

    function _params() internal pure returns (InferenceRequests.GenerationParams memory) {
        return InferenceRequests.GenerationParams({
            maxTokens: 32,
            temperature: 0x3f333333, // 0.7
            topK: 40,
            topP: 0x3f666666, // 0.9
            repetitionPenalty: 0x3f8ccccd, // 1.1
            seed: 0x0123456789abcdef
        });
    }

    function _ask(string memory mode, uint256 fee) internal returns (bytes32) {
        return chat.ask{value: fee}(MODEL, PROMPT, _params(), STOP, mode);
    }

    function _receipts(bytes32 id, bytes32 inputHash, bytes32 out, string memory mode, uint256 k)
        internal
        view
        returns (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs)
    {
        rs = new ProvaReceipts.Receipt[](k);
        sigs = new bytes[](k);
        for (uint256 i = 0; i < k; i++) {
            rs[i] = ProvaReceipts.Receipt(MODEL, inputHash, out, mode, id, ns[i], uint64(block.timestamp), block.chainid);
            sigs[i] = signReceipt(pks[i], rs[i]);
        }
    }

    /// Fulfils an attested generation whose receipt signs sha256(output), so only the layout can be at fault.
    function _fulfilSigned(bytes32 id, bytes memory output) internal {
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, requests.getRequest(id).inputHash, sha256(output), "attested", 1);
        requests.fulfil(id, rs, sigs, output);
    }

    /// The receipt is signed before expectRevert: the cheatcode applies to the very next call.
    function _expectMalformed(bytes32 id, bytes memory output, string memory reason) internal {
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, requests.getRequest(id).inputHash, sha256(output), "attested", 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.MalformedGenerationOutput.selector, reason));
        requests.fulfil(id, rs, sigs, output);
    }

    function _param(string memory name) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(InferenceRequests.InvalidGenerationParam.selector, name);
    }

    function _output(uint64[] memory ids, bytes memory text) internal pure returns (bytes memory out) {
        out = abi.encodePacked(hex"020000000a0000006f75747075745f6964730701000000", _le64(ids.length));
        for (uint256 i = 0; i < ids.length; i++) {
            out = abi.encodePacked(out, _le64(ids[i]));
        }
        out = abi.encodePacked(out, hex"04000000746578740201000000", _le64(text.length), text);
    }

    function _le64(uint256 v) internal pure returns (bytes8 r) {
        for (uint256 i = 0; i < 8; i++) {
            r |= bytes8(bytes1(uint8(v >> (8 * i)))) >> (8 * i);
        }
    }

    function test_RequestBuildsTheCanonicalBytes() public {
        assertTrue(keccak256(requests.generationInput(PROMPT, _params(), STOP)) == keccak256(REQUEST_BYTES), "bytes");
        assertEq(sha256(REQUEST_BYTES), REQUEST_SHA256, "vector hash");

        vm.recordLogs();
        bytes32 id = _ask("attested", 0.01 ether);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = keccak256("InferenceRequested(bytes32,address,bytes32,bytes32,string,uint256,bytes,string)");
        uint256 found;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter != address(requests) || logs[i].topics[0] != topic) continue;
            found++;
            assertEq(logs[i].topics[1], id, "request id");
            assertEq(address(uint160(uint256(logs[i].topics[2]))), address(chat), "consumer");
            assertEq(logs[i].topics[3], MODEL, "model");
            (bytes32 inputHash, string memory mode, uint256 fee, bytes memory input, string memory uri) =
                abi.decode(logs[i].data, (bytes32, string, uint256, bytes, string));
            assertEq(inputHash, REQUEST_SHA256, "inputHash");
            assertTrue(keccak256(input) == keccak256(REQUEST_BYTES), "the event carries the canonical bytes");
            assertTrue(keccak256(bytes(mode)) == keccak256("attested"), "mode");
            assertEq(fee, 0.01 ether, "fee");
            assertEq(bytes(uri).length, 0, "no URI");
        }
        assertEq(found, 1, "one InferenceRequested");
        InferenceRequests.Request memory q = requests.getRequest(id);
        assertEq(q.inputHash, REQUEST_SHA256, "stored inputHash");
        assertTrue(q.generation, "marked as a generation");
        assertEq(q.maxTokens, 32, "maxTokens kept");
        assertEq(q.quorum, 1, "attested");
        assertEq(q.consumer, address(chat), "consumer");
        assertEq(chat.lastRequestId(), id, "consumer kept the id");
    }

    function test_ChatHelperAsksGreedilyWithNoStop() public {
        bytes32 id = chat.chat(MODEL, "2+2?", 8, "attested");
        InferenceRequests.GenerationParams memory p =
            InferenceRequests.GenerationParams(8, 0, 0, 0x3f800000, 0x3f800000, 0);
        assertEq(requests.getRequest(id).inputHash, sha256(requests.generationInput("2+2?", p, "")), "inputHash");
    }

    function test_QuorumFulfilmentDeliversTheText() public {
        bytes32 id = _ask("quorum:2", 0.03 ether);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, REQUEST_SHA256, OUTPUT_SHA256, "quorum:2", 2);
        uint256 b0 = ns[0].balance;
        uint256 b1 = ns[1].balance;
        vm.recordLogs();
        vm.prank(address(0xFEE)); // anyone may relay
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
        assertEq(ns[0].balance - b0, 0.015 ether, "half the fee");
        assertEq(ns[1].balance - b1, 0.015 ether, "half the fee");
        assertTrue(chat.answered(id), "callback ran");
        assertEq(chat.lastAnsweredRequestId(), id, "answered this request");
        assertTrue(keccak256(bytes(chat.lastAnswer())) == keccak256(bytes(TEXT)), "the text arrived");
        assertEq(chat.lastAnswerHash(), keccak256(bytes(TEXT)), "textHash = keccak256(text)");
        InferenceRequests.Request memory q = requests.getRequest(id);
        assertTrue(q.status == InferenceRequests.Status.Fulfilled, "fulfilled");
        assertEq(q.outputHash, OUTPUT_SHA256, "output hash stored");

        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 fulfilled = keccak256("InferenceFulfilled(bytes32,bytes32,address[],bool,bytes)");
        bytes32 generated = keccak256("GenerationFulfilled(bytes32,bytes32,uint256)");
        uint256 seen;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter != address(requests)) continue;
            if (logs[i].topics[0] == fulfilled) {
                (bytes32 outputHash, address[] memory signers, bool ok, bytes memory output) =
                    abi.decode(logs[i].data, (bytes32, address[], bool, bytes));
                assertEq(outputHash, OUTPUT_SHA256, "event output hash");
                assertEq(signers.length, 2, "two signers");
                assertTrue(ok, "callbackOk");
                assertTrue(keccak256(output) == keccak256(OUTPUT_BYTES), "event output bytes");
                seen |= 1;
            } else if (logs[i].topics[0] == generated) {
                assertEq(logs[i].topics[1], id, "request id");
                (bytes32 textHash, uint256 tokens) = abi.decode(logs[i].data, (bytes32, uint256));
                assertEq(textHash, keccak256(bytes(TEXT)), "event text hash");
                assertEq(tokens, 4, "four output ids");
                seen |= 2;
            }
        }
        assertEq(seen, 3, "InferenceFulfilled and GenerationFulfilled emitted");
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.NotPending.selector, id));
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
    }

    function test_EmptyAnswerIsDelivered() public {
        bytes32 id = _ask("attested", 0);
        _fulfilSigned(id, _output(new uint64[](0), ""));
        assertTrue(chat.answered(id), "callback ran");
        assertEq(bytes(chat.lastAnswer()).length, 0, "empty text");
        assertEq(chat.lastAnswerHash(), keccak256(""), "hash of empty text");
    }

    function test_WrongOutputHashIsRejected() public {
        bytes32 id = _ask("attested", 0);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, REQUEST_SHA256, keccak256("other"), "attested", 1);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceRequests.OutputHashMismatch.selector, OUTPUT_SHA256, keccak256("other"))
        );
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
        // A receipt over the right output but the wrong input (a plain request's) does not match either.
        (rs, sigs) = _receipts(id, INPUT, OUTPUT_SHA256, "attested", 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.ReceiptMismatch.selector, 0));
        requests.fulfil(id, rs, sigs, OUTPUT_BYTES);
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Pending, "still pending");
    }

    function test_HashOnlyFulfilmentOfAGenerationIsRejected() public {
        bytes32 id = _ask("attested", 0);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, REQUEST_SHA256, OUTPUT_SHA256, "attested", 1);
        vm.expectRevert(InferenceRequests.GenerationOutputRequired.selector);
        requests.fulfil(id, rs, sigs, "");
    }

    function test_MalformedOutputIsRejected() public {
        bytes32 id = _ask("attested", 0);
        bytes memory good = OUTPUT_BYTES;
        bytes memory b;

        b = hex"0200000000";
        _expectMalformed(id, b, "shorter than the two tensor headers");

        b = bytes.concat(good);
        b[0] = 0x03; // three tensors
        _expectMalformed(id, b, "not count 2, output_ids int64 rank 1");

        b = bytes.concat(good);
        b[8] = "O"; // "Output_ids"
        _expectMalformed(id, b, "not count 2, output_ids int64 rank 1");

        b = bytes.concat(good);
        b[18] = 0x06; // int32 ids
        _expectMalformed(id, b, "not count 2, output_ids int64 rank 1");

        b = bytes.concat(good);
        b[23] = 0x09; // 9 ids in the bytes of 4
        _expectMalformed(id, b, "output_ids longer than the bytes");

        b = bytes.concat(good);
        b[30] = 0x80; // 2^63 ids: must not overflow into a short read
        _expectMalformed(id, b, "output_ids longer than the bytes");

        b = bytes.concat(good);
        b[23] = 0x03; // 3 ids: the 4th id is read as the text header
        _expectMalformed(id, b, "second tensor is not text uint8 rank 1");

        b = bytes.concat(good);
        b[71] = 0x01; // text as float32
        _expectMalformed(id, b, "second tensor is not text uint8 rank 1");

        b = bytes.concat(good, "!"); // one byte more than the text's length
        _expectMalformed(id, b, "text length does not match the bytes");

        b = bytes.concat(good);
        assembly {
            mstore(b, sub(mload(b), 1)) // one byte short
        }
        _expectMalformed(id, b, "text length does not match the bytes");

        // The text tensor first (as if sorted wrongly): not the canonical order.
        b = abi.encodePacked(hex"0200000004000000746578740201000000", _le64(2), "hi", hex"0a0000006f75747075745f6964730701000000", _le64(0));
        _expectMalformed(id, b, "not count 2, output_ids int64 rank 1");

        uint64[] memory many = new uint64[](33);
        _expectMalformed(id, _output(many, "x"), "more output_ids than maxTokens");

        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Pending, "still pending");
        _fulfilSigned(id, _output(new uint64[](32), "exactly maxTokens ids"));
        assertTrue(chat.answered(id), "the well-formed output is accepted");
    }

    function test_RevertingCallbackDoesNotUndoFulfilment() public {
        RevertingChatConsumer rc = new RevertingChatConsumer();
        bytes32 id = rc.ask{value: 1 ether}(requests, MODEL, _params());
        uint256 before = ns[0].balance;
        vm.recordLogs();
        _fulfilSigned(id, OUTPUT_BYTES);
        assertEq(ns[0].balance - before, 1 ether, "node paid");
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Fulfilled, "fulfilled");
        assertTrue(!_callbackOk(vm.getRecordedLogs()), "callbackOk is false");
    }

    function test_GreedyCallbackGetsOnlyItsGas() public {
        GreedyChatConsumer gc = new GreedyChatConsumer();
        bytes32 id = gc.ask(requests, MODEL, _params());
        vm.recordLogs();
        uint256 g0 = gasleft();
        _fulfilSigned(id, OUTPUT_BYTES);
        uint256 used = g0 - gasleft();
        assertTrue(!_callbackOk(vm.getRecordedLogs()), "out-of-gas callback reported as failed");
        assertTrue(used < 500_000 + 200_000, "the fulfiller pays at most callbackGasLimit for the callback");
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Fulfilled, "fulfilled");
    }

    function test_AnAccountMayAskAndReadTheEvents() public {
        address alice = vm.addr(key(77));
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        bytes32 id = requests.requestGeneration{value: 0.1 ether}(MODEL, PROMPT, _params(), STOP, "attested");
        vm.recordLogs();
        _fulfilSigned(id, OUTPUT_BYTES);
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Fulfilled, "fulfilled");
        assertTrue(!_callbackOk(vm.getRecordedLogs()), "no code, no call");
    }

    function test_NotEnoughGasForTheCallbackReverts() public {
        bytes32 id = _ask("attested", 0);
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) =
            _receipts(id, REQUEST_SHA256, OUTPUT_SHA256, "attested", 1);
        vm.expectRevert(InferenceRequests.NotEnoughGas.selector);
        requests.fulfil{gas: 300_000}(id, rs, sigs, OUTPUT_BYTES);
    }

    function _callbackOk(Vm.Log[] memory logs) internal view returns (bool ok) {
        bytes32 fulfilled = keccak256("InferenceFulfilled(bytes32,bytes32,address[],bool,bytes)");
        uint256 n;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter == address(requests) && logs[i].topics[0] == fulfilled) {
                (,, ok,) = abi.decode(logs[i].data, (bytes32, address[], bool, bytes));
                n++;
            }
        }
        assertEq(n, 1, "one InferenceFulfilled");
    }

    function test_RequestValidation() public {
        InferenceRequests.GenerationParams memory p = _params();
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.UnknownModel.selector, keccak256("nope")));
        requests.requestGeneration(keccak256("nope"), PROMPT, p, "", "attested");
        vm.expectRevert(InferenceRequests.NoInput.selector);
        requests.requestGeneration(MODEL, "", p, "", "attested");
        bytes memory big = new bytes(64 * 1024 + 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.InputTooLarge.selector, big.length));
        requests.requestGeneration(MODEL, big, p, "", "attested");
        vm.expectRevert(abi.encodeWithSelector(InferenceRequests.UnsupportedMode.selector, "quorum:17"));
        requests.requestGeneration(MODEL, PROMPT, p, "", "quorum:17");

        p.maxTokens = 0;
        _expectParam(p, "", "maxTokens");
        p.maxTokens = 2049;
        _expectParam(p, "", "maxTokens");
        p.maxTokens = 2048;

        p.temperature = 0x42c80001; // just above 100.0
        _expectParam(p, "", "temperature");
        p.temperature = 0x80000000; // -0.0
        _expectParam(p, "", "temperature");
        p.temperature = 0x7fc00000; // NaN
        _expectParam(p, "", "temperature");
        p.temperature = 0x42c80000; // 100.0 is allowed

        p.topK = 0x80000000;
        _expectParam(p, "", "topK");
        p.topK = 0x7fffffff;

        p.topP = 0;
        _expectParam(p, "", "topP");
        p.topP = 0x3f800001; // just above 1.0
        _expectParam(p, "", "topP");
        p.topP = 0x3f800000;

        p.repetitionPenalty = 0;
        _expectParam(p, "", "repetitionPenalty");
        p.repetitionPenalty = 0x7f800000; // +infinity
        _expectParam(p, "", "repetitionPenalty");
        p.repetitionPenalty = 0x00000001; // the smallest positive subnormal is > 0

        _expectParam(p, "no terminator", "stop");
        _expectParam(p, "\x00", "stop"); // an empty stop string
        _expectParam(p, "a\x00\x00", "stop");
        _expectParam(p, new bytes(1025), "stop");

        bytes memory longStop = new bytes(1024);
        for (uint256 i = 0; i < 1024; i++) {
            longStop[i] = i % 2 == 0 ? bytes1("x") : bytes1(0);
        }
        bytes32 id = requests.requestGeneration(MODEL, PROMPT, p, longStop, "quorum:3");
        assertEq(requests.getRequest(id).quorum, 3, "quorum kept");
        assertEq(requests.getRequest(id).maxTokens, 2048, "the largest maxTokens");
    }

    function _expectParam(InferenceRequests.GenerationParams memory p, bytes memory stop, string memory name) internal {
        vm.expectRevert(_param(name));
        requests.requestGeneration(MODEL, PROMPT, p, stop, "attested");
    }

    function test_PlainRequestsAreNotGenerations() public {
        bytes memory input = hex"0102";
        bytes32 id = requests.request(MODEL, sha256(input), input, "", "attested");
        InferenceRequests.Request memory q = requests.getRequest(id);
        assertTrue(!q.generation, "not a generation");
        assertEq(q.maxTokens, 0, "no maxTokens");
        // A plain request may still be fulfilled with the hash alone, whatever the output bytes would be.
        (ProvaReceipts.Receipt[] memory rs, bytes[] memory sigs) = _receipts(id, sha256(input), OUTPUT, "attested", 1);
        requests.fulfil(id, rs, sigs, "");
        assertTrue(requests.getRequest(id).status == InferenceRequests.Status.Fulfilled, "fulfilled");
    }

    /// Any bytes either parse into a consistent (tokens, textStart) or revert with MalformedGenerationOutput —
    /// never a panic (out-of-bounds slice, overflow).
    function testFuzz_ParseGenerationOutputNeverPanics(bytes memory junk, uint64 m, uint8 cut) public view {
        bytes memory cases = junk;
        for (uint256 k = 0; k < 2; k++) {
            if (k == 1) {
                // A valid header with a fuzzed id count, and fuzzed bytes after it.
                cases = abi.encodePacked(hex"020000000a0000006f75747075745f6964730701000000", _le64(m), junk);
                if (cut < cases.length) {
                    assembly {
                        mstore(cases, sub(mload(cases), cut))
                    }
                }
            }
            try requests.parseGenerationOutput(cases) returns (uint256 tokens, uint256 textStart) {
                assertEq(textStart, 52 + tokens * 8, "text right after the headers");
            } catch (bytes memory reason) {
                assertTrue(bytes4(reason) == InferenceRequests.MalformedGenerationOutput.selector, "typed revert");
            }
        }
    }

    /// Well-formed outputs of any size parse back to their token count and text.
    function testFuzz_ParseGenerationOutputRoundTrips(uint8 count, bytes memory text, uint64 salt) public view {
        uint64[] memory ids = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            ids[i] = uint64(uint256(keccak256(abi.encode(salt, i))));
        }
        bytes memory out = _output(ids, text);
        (uint256 tokens, uint256 textStart) = requests.parseGenerationOutput(out);
        assertEq(tokens, count, "tokens");
        assertEq(out.length - textStart, text.length, "text length");
    }

    receive() external payable {}
}
