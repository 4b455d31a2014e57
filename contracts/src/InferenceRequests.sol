// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProvaReceipts} from "./ProvaReceipts.sol";
import {NodeRegistry} from "./NodeRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {IProvaConsumer} from "./IProvaConsumer.sol";
import {IProvaGenerationConsumer} from "./IProvaGenerationConsumer.sol";

interface IReceiptDomain {
    function domainSeparator() external view returns (bytes32);
}

/// @title InferenceRequests
/// @notice Contract-callable inference. A contract pays a fee and requests an inference of a registered
///         model on an input (the canonical tensor bytes, checked against inputHash with sha256, or only the
///         hash plus a URI). Anyone may then fulfil it with the receipt(s) of active staked nodes — signed
///         under the Settlement contract's EIP-712 domain, with requestId = the on-chain request id — and
///         the output; the contract checks every signature, pays the nodes and calls back the consumer.
///         requestGeneration asks for a language-model generation instead: the contract builds the canonical
///         request tensors itself, and fulfilment parses the output tensors and calls back with the text.
contract InferenceRequests {
    enum Status {
        None,
        Pending,
        Fulfilled,
        Cancelled
    }

    struct Request {
        address consumer;
        uint40 createdAt;
        uint8 quorum; // receipts needed: 1 for "attested" and "proof", K for "quorum:K"
        Status status;
        bool generation; // made by requestGeneration: fulfil needs the output bytes and calls onGenerationResult
        uint32 maxTokens; // generations only: the most output ids a fulfilment may carry
        bytes32 model;
        bytes32 inputHash;
        uint256 fee;
        bytes32 outputHash;
        bytes32 modeHash;
    }

    uint256 public constant MAX_INPUT_BYTES = 64 * 1024;
    uint256 public constant MAX_OUTPUT_BYTES = 64 * 1024;
    uint256 public constant MAX_URI_LENGTH = 1024;
    uint8 public constant MAX_QUORUM = 16;
    /// @notice Cap on GenerationParams.maxTokens: 2048 ids are 16 KiB of the 64 KiB output, leaving 48 KiB of text.
    uint32 public constant MAX_GENERATION_TOKENS = 2048;
    /// @notice Cap on the stop list of a generation (all stop strings with their 0x00 terminators).
    uint256 public constant MAX_STOP_BYTES = 1024;

    /// @notice Sampling parameters of a generation (docs/generation.md). temperature, topP and repetitionPenalty
    ///         are IEEE-754 binary32 bit patterns (0x3f800000 = 1.0): temperature in [0, 100] (0 = greedy),
    ///         topP in (0, 1] (1 keeps all), repetitionPenalty in (0, 100] (1 is off). topK = 0 keeps all tokens.
    ///         maxTokens is 1..MAX_GENERATION_TOKENS; seed seeds the sampler's draws.
    struct GenerationParams {
        uint32 maxTokens;
        uint32 temperature;
        uint32 topK;
        uint32 topP;
        uint32 repetitionPenalty;
        uint64 seed;
    }

    // Canonical tensor encoding pieces (docs/formats.md): u32 name length · name · u8 dtype · u32 rank, with the
    // tensor count in front of the first. The request's names in ordinal order: max_tokens, prompt,
    // repetition_penalty, seed, stop, temperature, top_k, top_p.
    bytes private constant H_COUNT_MAX_TOKENS = hex"08000000" hex"0a0000006d61785f746f6b656e73" hex"07" hex"00000000";
    bytes private constant H_PROMPT = hex"0600000070726f6d707402" hex"01000000";
    bytes private constant H_REPETITION_PENALTY = hex"1200000072657065746974696f6e5f70656e616c747901" hex"00000000";
    bytes private constant H_SEED = hex"04000000736565640d" hex"00000000";
    bytes private constant H_STOP = hex"0400000073746f7002" hex"01000000";
    bytes private constant H_TEMPERATURE = hex"0b00000074656d70657261747572650100000000";
    bytes private constant H_TOP_K = hex"05000000746f705f6b07" hex"00000000";
    bytes private constant H_TOP_P = hex"05000000746f705f7001" hex"00000000";
    // The output: count 2 · "output_ids" int64 rank 1 (then u64 m · m ids) · "text" uint8 rank 1 (then u64 b · b bytes).
    bytes23 private constant H_OUTPUT_IDS = hex"02000000" hex"0a0000006f75747075745f696473" hex"07" hex"01000000";
    bytes13 private constant H_TEXT = hex"040000007465787402" hex"01000000";
    uint256 private constant FLOAT_ONE = 0x3f800000;
    uint256 private constant FLOAT_HUNDRED = 0x42c80000;

    NodeRegistry public immutable nodes;
    ModelRegistry public immutable models;
    /// @notice The Settlement contract whose EIP-712 domain receipts are signed under.
    address public immutable settlement;
    uint64 public immutable timeout; // after this, the consumer may cancel an unfulfilled request
    uint32 public immutable callbackGasLimit;

    uint256 public requestCount;
    mapping(bytes32 requestId => Request) private _requests;

    event InferenceRequested(
        bytes32 indexed requestId,
        address indexed consumer,
        bytes32 indexed model,
        bytes32 inputHash,
        string mode,
        uint256 fee,
        bytes input,
        string inputURI
    );
    /// @notice One per accepted receipt: with the request's fields it rebuilds the signed receipt (evidence).
    event ReceiptAccepted(bytes32 indexed requestId, address indexed node, uint64 timestamp, bytes signature);
    event InferenceFulfilled(
        bytes32 indexed requestId, bytes32 outputHash, address[] nodes, bool callbackOk, bytes output
    );
    event InferenceCancelled(bytes32 indexed requestId);
    /// @notice After InferenceFulfilled for a generation: textHash = keccak256(text bytes), tokens = output ids.
    event GenerationFulfilled(bytes32 indexed requestId, bytes32 textHash, uint256 tokens);

    error UnknownModel(bytes32 model);
    error UnsupportedMode(string mode);
    error InputTooLarge(uint256 length);
    error OutputTooLarge(uint256 length);
    error UriTooLong(uint256 length);
    error InputHashMismatch(bytes32 computed, bytes32 expected);
    error OutputHashMismatch(bytes32 computed, bytes32 expected);
    error NoInput();
    error NotPending(bytes32 requestId);
    error WrongReceiptCount(uint256 given, uint256 required);
    error ReceiptMismatch(uint256 index);
    error WrongChain(uint256 chainId);
    error NotActiveNode(address node);
    error NodesNotAscending(uint256 index);
    error BadSigner(address recovered, address node);
    error NotConsumer(address caller);
    error NotExpired(uint64 expiresAt);
    error NotEnoughGas();
    error TransferFailed();
    /// @notice A GenerationParams field (or the stop list) is out of range; `name` is the field.
    error InvalidGenerationParam(string name);
    /// @notice A generation is fulfilled with its canonical output bytes, never with the hash alone.
    error GenerationOutputRequired();
    /// @notice The output bytes of a generation are not {output_ids int64 [m], text uint8 [b]} with m ≤ maxTokens.
    error MalformedGenerationOutput(string reason);

    constructor(NodeRegistry nodes_, ModelRegistry models_, address settlement_, uint64 timeout_, uint32 callbackGasLimit_) {
        nodes = nodes_;
        models = models_;
        settlement = settlement_;
        timeout = timeout_;
        callbackGasLimit = callbackGasLimit_;
    }

    /// @notice Requests an inference of `model` (a registered CID digest) for the caller, paying `msg.value`.
    ///         Give `input` (canonical tensor bytes; sha256(input) must equal inputHash) or leave it empty and
    ///         give `inputURI` where nodes fetch it. `mode` is "attested", "proof" or "quorum:K" (2 ≤ K ≤ 16).
    function request(bytes32 model, bytes32 inputHash, bytes calldata input, string calldata inputURI, string calldata mode)
        external
        payable
        returns (bytes32 requestId)
    {
        if (!models.isRegistered(model)) revert UnknownModel(model);
        if (input.length > MAX_INPUT_BYTES) revert InputTooLarge(input.length);
        if (bytes(inputURI).length > MAX_URI_LENGTH) revert UriTooLong(bytes(inputURI).length);
        if (input.length > 0) {
            bytes32 h = sha256(input);
            if (h != inputHash) revert InputHashMismatch(h, inputHash);
        } else if (bytes(inputURI).length == 0) {
            revert NoInput();
        }
        requestId = _store(model, inputHash, mode, false, 0);
        emit InferenceRequested(requestId, msg.sender, model, inputHash, mode, msg.value, input, inputURI);
    }

    /// @notice Requests a language-model generation from `model` (a registered bundle's CID digest) for the caller,
    ///         paying `msg.value`. `prompt` is UTF-8 text (the node tokenizes it with the bundle's tokenizer and adds
    ///         its special tokens); `stop` is the stop strings, each one's UTF-8 followed by one 0x00 (empty for
    ///         none). The contract builds the canonical request tensors (see generationInput) and emits them as
    ///         InferenceRequested.input with inputHash = sha256(input), so nodes fetch a generation like any request.
    function requestGeneration(
        bytes32 model,
        bytes calldata prompt,
        GenerationParams calldata params,
        bytes calldata stop,
        string calldata mode
    ) external payable returns (bytes32 requestId) {
        if (!models.isRegistered(model)) revert UnknownModel(model);
        if (prompt.length == 0) revert NoInput();
        if (prompt.length > MAX_INPUT_BYTES) revert InputTooLarge(prompt.length);
        checkGenerationParams(params, stop);
        bytes memory input = generationInput(prompt, params, stop);
        bytes32 inputHash = sha256(input);
        requestId = _store(model, inputHash, mode, true, params.maxTokens);
        emit InferenceRequested(requestId, msg.sender, model, inputHash, mode, msg.value, input, "");
    }

    /// @notice Reverts with InvalidGenerationParam(field) unless every field is in the range GenerationParams
    ///         documents and `stop` is a list of non-empty strings, each ended by one 0x00, of at most MAX_STOP_BYTES.
    function checkGenerationParams(GenerationParams calldata p, bytes calldata stop) public pure {
        if (p.maxTokens == 0 || p.maxTokens > MAX_GENERATION_TOKENS) revert InvalidGenerationParam("maxTokens");
        // Non-negative binary32 values order like their bit patterns; NaN and infinity lie above 100.0.
        if (p.temperature > FLOAT_HUNDRED) revert InvalidGenerationParam("temperature");
        if (p.topK > uint32(type(int32).max)) revert InvalidGenerationParam("topK");
        if (p.topP == 0 || p.topP > FLOAT_ONE) revert InvalidGenerationParam("topP");
        if (p.repetitionPenalty == 0 || p.repetitionPenalty > FLOAT_HUNDRED) {
            revert InvalidGenerationParam("repetitionPenalty");
        }
        if (stop.length > MAX_STOP_BYTES || (stop.length > 0 && stop[stop.length - 1] != 0)) {
            revert InvalidGenerationParam("stop");
        }
        bool atStart = true; // no empty stop string: no 0x00 at the start or right after another
        for (uint256 i = 0; i < stop.length; i++) {
            bool zero = stop[i] == 0;
            if (zero && atStart) revert InvalidGenerationParam("stop");
            atStart = zero;
        }
    }

    /// @notice The canonical request tensors of a generation (docs/formats.md), in ordinal name order:
    ///         max_tokens int64 [] · prompt uint8 [b] · repetition_penalty float32 [] · seed uint64 [] ·
    ///         stop uint8 [s] · temperature float32 [] · top_k int64 [] · top_p float32 []. Does not validate.
    function generationInput(bytes calldata prompt, GenerationParams calldata p, bytes calldata stop)
        public
        pure
        returns (bytes memory)
    {
        bytes memory head = abi.encodePacked(H_COUNT_MAX_TOKENS, _le64(p.maxTokens), H_PROMPT, _le64(prompt.length));
        bytes memory middle = abi.encodePacked(
            H_REPETITION_PENALTY, _le32(p.repetitionPenalty), H_SEED, _le64(p.seed), H_STOP, _le64(stop.length)
        );
        bytes memory tail =
            abi.encodePacked(H_TEMPERATURE, _le32(p.temperature), H_TOP_K, _le64(p.topK), H_TOP_P, _le32(p.topP));
        return bytes.concat(head, prompt, middle, stop, tail);
    }

    /// @notice Splits the canonical output of a generation into its token count and the text's offset in `output`;
    ///         reverts with MalformedGenerationOutput unless it is exactly {output_ids int64 [m], text uint8 [b]}.
    function parseGenerationOutput(bytes calldata output) public pure returns (uint256 tokens, uint256 textStart) {
        // 23-byte header · u64 m · 8m · 13-byte header · u64 b · b
        if (output.length < 52) revert MalformedGenerationOutput("shorter than the two tensor headers");
        if (bytes23(output[0:23]) != H_OUTPUT_IDS) revert MalformedGenerationOutput("not count 2, output_ids int64 rank 1");
        tokens = _readLe64(output, 23);
        if (tokens > (output.length - 52) / 8) revert MalformedGenerationOutput("output_ids longer than the bytes");
        uint256 at = 31 + tokens * 8;
        if (bytes13(output[at:at + 13]) != H_TEXT) revert MalformedGenerationOutput("second tensor is not text uint8 rank 1");
        uint256 textLength = _readLe64(output, at + 13);
        textStart = at + 21;
        if (textLength != output.length - textStart) revert MalformedGenerationOutput("text length does not match the bytes");
    }

    /// @notice Fulfils `requestId` with `quorum` receipts from distinct active nodes (sorted by ascending
    ///         node address) that all match the request and agree on the output hash; `output` is the
    ///         canonical output bytes (or empty). Pays the fee split equally among the nodes and calls the
    ///         consumer back with callbackGasLimit gas (a failing callback does not undo the fulfilment).
    ///         A generation needs the output bytes, in the layout parseGenerationOutput checks, with at most
    ///         maxTokens ids; its consumer gets onGenerationResult(requestId, keccak256(text), text) instead.
    function fulfil(
        bytes32 requestId,
        ProvaReceipts.Receipt[] calldata receipts,
        bytes[] calldata signatures,
        bytes calldata output
    ) external {
        Request storage q = _requests[requestId];
        if (q.status != Status.Pending) revert NotPending(requestId);
        if (receipts.length != q.quorum || signatures.length != q.quorum) {
            revert WrongReceiptCount(receipts.length, q.quorum);
        }
        if (output.length > MAX_OUTPUT_BYTES) revert OutputTooLarge(output.length);
        bytes32 outputHash = receipts[0].outputHash;
        if (output.length > 0) {
            bytes32 h = sha256(output);
            if (h != outputHash) revert OutputHashMismatch(h, outputHash);
        }
        if (q.generation) _checkGenerationOutput(output, q.maxTokens);
        bytes32 domain = IReceiptDomain(settlement).domainSeparator();
        address[] memory signers = new address[](receipts.length);
        for (uint256 i = 0; i < receipts.length; i++) {
            ProvaReceipts.Receipt calldata r = receipts[i];
            if (
                r.requestId != requestId || r.model != q.model || r.inputHash != q.inputHash
                    || r.outputHash != outputHash || keccak256(bytes(r.mode)) != q.modeHash
            ) revert ReceiptMismatch(i);
            if (r.chainId != block.chainid) revert WrongChain(r.chainId);
            if (i > 0 && r.node <= signers[i - 1]) revert NodesNotAscending(i);
            if (!nodes.isActive(r.node)) revert NotActiveNode(r.node);
            address signer = ProvaReceipts.recover(ProvaReceipts.digest(domain, r), signatures[i]);
            if (signer != r.node) revert BadSigner(signer, r.node);
            signers[i] = signer;
            emit ReceiptAccepted(requestId, signer, r.timestamp, signatures[i]);
        }
        q.status = Status.Fulfilled;
        q.outputHash = outputHash;

        uint256 fee = q.fee;
        if (fee > 0) {
            uint256 each = fee / signers.length;
            for (uint256 i = 0; i < signers.length; i++) {
                // The first node also gets the division dust.
                _send(signers[i], i == 0 ? fee - each * (signers.length - 1) : each);
            }
        }

        if (q.generation) {
            _fulfilGeneration(requestId, q.consumer, signers, output, outputHash);
            return;
        }
        // Make sure the callback really gets callbackGasLimit (EIP-150 passes on at most 63/64).
        if (gasleft() < uint256(callbackGasLimit) * 64 / 63 + 10_000) revert NotEnoughGas();
        bool ok;
        try IProvaConsumer(q.consumer).onInferenceResult{gas: callbackGasLimit}(requestId, outputHash, output) {
            ok = true;
        } catch {
            ok = false;
        }
        emit InferenceFulfilled(requestId, outputHash, signers, ok, output);
    }

    /// @notice The consumer takes back the fee of a request nobody fulfilled within `timeout`.
    function cancel(bytes32 requestId) external {
        Request storage q = _requests[requestId];
        if (q.status != Status.Pending) revert NotPending(requestId);
        if (msg.sender != q.consumer) revert NotConsumer(msg.sender);
        uint64 expiresAt = uint64(q.createdAt) + timeout;
        if (block.timestamp < expiresAt) revert NotExpired(expiresAt);
        q.status = Status.Cancelled;
        emit InferenceCancelled(requestId);
        if (q.fee > 0) _send(msg.sender, q.fee);
    }

    function getRequest(bytes32 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @notice Receipts a mode needs: "attested" and "proof" → 1, "quorum:K" → K (2..16); else reverts.
    function parseMode(string calldata mode) public pure returns (uint8) {
        bytes calldata m = bytes(mode);
        if (keccak256(m) == keccak256("attested") || keccak256(m) == keccak256("proof")) return 1;
        if (m.length < 8 || m.length > 9 || keccak256(m[:7]) != keccak256("quorum:")) revert UnsupportedMode(mode);
        uint256 k;
        for (uint256 i = 7; i < m.length; i++) {
            uint8 c = uint8(m[i]);
            if (c < 48 || c > 57) revert UnsupportedMode(mode);
            k = k * 10 + (c - 48);
        }
        if (k < 2 || k > MAX_QUORUM || (m.length == 9 && m[7] == "0")) revert UnsupportedMode(mode);
        return uint8(k);
    }

    /// @dev The callback of a generation: the calldata is built first, so the gas check covers the call alone.
    function _fulfilGeneration(
        bytes32 requestId,
        address consumer,
        address[] memory signers,
        bytes calldata output,
        bytes32 outputHash
    ) private {
        (uint256 tokens, uint256 textStart) = parseGenerationOutput(output);
        bytes32 textHash = keccak256(output[textStart:]);
        bool ok = _callBack(
            consumer,
            abi.encodeCall(IProvaGenerationConsumer.onGenerationResult, (requestId, textHash, string(output[textStart:])))
        );
        emit InferenceFulfilled(requestId, outputHash, signers, ok, output);
        emit GenerationFulfilled(requestId, textHash, tokens);
    }

    /// @dev Calls `consumer` with `data` and callbackGasLimit gas; a consumer without code (an account asking
    ///      directly, which reads the events) gets no call and false.
    function _callBack(address consumer, bytes memory data) private returns (bool ok) {
        // Make sure the callback really gets callbackGasLimit (EIP-150 passes on at most 63/64).
        if (gasleft() < uint256(callbackGasLimit) * 64 / 63 + 10_000) revert NotEnoughGas();
        if (consumer.code.length == 0) return false;
        uint256 gasLimit = callbackGasLimit;
        assembly ("memory-safe") {
            // No return data is copied: a consumer cannot make the fulfiller pay for a huge one.
            ok := call(gasLimit, consumer, 0, add(data, 32), mload(data), 0, 0)
        }
    }

    function _checkGenerationOutput(bytes calldata output, uint32 maxTokens) private pure {
        if (output.length == 0) revert GenerationOutputRequired();
        (uint256 tokens,) = parseGenerationOutput(output);
        if (tokens > maxTokens) revert MalformedGenerationOutput("more output_ids than maxTokens");
    }

    function _store(bytes32 model, bytes32 inputHash, string calldata mode, bool generation, uint32 maxTokens)
        private
        returns (bytes32 requestId)
    {
        uint8 quorum = parseMode(mode);
        requestId = keccak256(abi.encode(block.chainid, address(this), ++requestCount));
        _requests[requestId] = Request({
            consumer: msg.sender,
            createdAt: uint40(block.timestamp),
            quorum: quorum,
            status: Status.Pending,
            generation: generation,
            maxTokens: maxTokens,
            model: model,
            inputHash: inputHash,
            fee: msg.value,
            outputHash: bytes32(0),
            modeHash: keccak256(bytes(mode))
        });
    }

    function _le32(uint32 x) private pure returns (bytes4) {
        x = ((x & 0xff00ff00) >> 8) | ((x & 0x00ff00ff) << 8);
        return bytes4((x >> 16) | (x << 16));
    }

    function _le64(uint256 v) private pure returns (bytes8) {
        uint64 x = uint64(v);
        x = ((x & 0xff00ff00ff00ff00) >> 8) | ((x & 0x00ff00ff00ff00ff) << 8);
        x = ((x & 0xffff0000ffff0000) >> 16) | ((x & 0x0000ffff0000ffff) << 16);
        return bytes8((x >> 32) | (x << 32));
    }

    function _readLe64(bytes calldata b, uint256 at) private pure returns (uint256) {
        uint64 x = uint64(bytes8(b[at:at + 8]));
        x = ((x & 0xff00ff00ff00ff00) >> 8) | ((x & 0x00ff00ff00ff00ff) << 8);
        x = ((x & 0xffff0000ffff0000) >> 16) | ((x & 0x0000ffff0000ffff) << 16);
        return (x >> 32) | (x << 32);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
