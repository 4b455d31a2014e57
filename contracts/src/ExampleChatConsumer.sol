// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProvaGenerationConsumer} from "./IProvaGenerationConsumer.sol";
import {InferenceRequests} from "./InferenceRequests.sol";

/// @title ExampleChatConsumer
/// @notice A minimal contract that asks Prova's language models questions and keeps the last answer (tests,
///         devnet demo). Storing text costs about 690 gas a byte (22,100 per 32-byte word), so with the default
///         callbackGasLimit of 500,000 an answer of up to about 600 bytes is kept; a longer one makes the callback
///         fail (the request is still fulfilled and the text is in InferenceRequests' events).
contract ExampleChatConsumer is IProvaGenerationConsumer {
    InferenceRequests public immutable prova;
    address public immutable owner;
    bytes32 public lastRequestId;
    bytes32 public lastAnsweredRequestId;
    string public lastAnswer;
    bytes32 public lastAnswerHash;
    mapping(bytes32 requestId => bool) public answered;

    event Asked(bytes32 indexed requestId, bytes32 indexed model);
    event Answered(bytes32 indexed requestId, bytes32 textHash, uint256 textLength);

    error OnlyProva();
    error OnlyOwner();

    constructor(InferenceRequests prova_) {
        prova = prova_;
        owner = msg.sender;
    }

    /// @notice Asks `model` to answer `prompt` greedily (temperature 0) in at most `maxTokens` tokens, forwarding
    ///         `msg.value` as the fee.
    function chat(bytes32 model, string calldata prompt, uint32 maxTokens, string calldata mode)
        external
        payable
        returns (bytes32 requestId)
    {
        InferenceRequests.GenerationParams memory p = InferenceRequests.GenerationParams({
            maxTokens: maxTokens,
            temperature: 0,
            topK: 0,
            topP: 0x3f800000, // 1.0
            repetitionPenalty: 0x3f800000, // 1.0: off
            seed: 0
        });
        requestId = prova.requestGeneration{value: msg.value}(model, bytes(prompt), p, "", mode);
        lastRequestId = requestId;
        emit Asked(requestId, model);
    }

    /// @notice Asks with every sampling parameter and stop strings given (see InferenceRequests.requestGeneration).
    function ask(
        bytes32 model,
        bytes calldata prompt,
        InferenceRequests.GenerationParams calldata params,
        bytes calldata stop,
        string calldata mode
    ) external payable returns (bytes32 requestId) {
        requestId = prova.requestGeneration{value: msg.value}(model, prompt, params, stop, mode);
        lastRequestId = requestId;
        emit Asked(requestId, model);
    }

    function onGenerationResult(bytes32 requestId, bytes32 textHash, string calldata text) external {
        if (msg.sender != address(prova)) revert OnlyProva();
        lastAnsweredRequestId = requestId;
        lastAnswer = text;
        lastAnswerHash = textHash;
        answered[requestId] = true;
        emit Answered(requestId, textHash, bytes(text).length);
    }

    /// @notice Takes back a timed-out request's fee (refunded to this contract) and passes it to the owner.
    function cancel(bytes32 requestId) external {
        if (msg.sender != owner) revert OnlyOwner();
        prova.cancel(requestId);
        (bool ok,) = owner.call{value: address(this).balance}("");
        require(ok);
    }

    receive() external payable {}
}
